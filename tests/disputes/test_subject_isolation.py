"""Disputes are seen only by the subject's own people and by agents holding
file_disputes: every dispute, evidence and letter URL is 404 for anyone
else, whichever subject id the URL carries, and an evidence id reached
through another dispute's URL is 404 even for the owner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.disputes import decisions, lifecycle
from portal.disputes.evidence import Upload
from portal.disputes.models import Dispute, DisputeStatus, Evidence, RecordStatement
from portal.extensions import session, vault
from portal.records.models import Subject

from .conftest import PDF
from .test_subject_pages import file_dispute, make_officer, records_of, signed, token


@pytest.fixture
def cases(app, world):
    """Person A: a decided dispute (verified accurate, with a file) and an
    open one (with a file); person B: an open one of its own."""
    loan, card = records_of(app, world.person_a)
    (loan_b,) = records_of(app, world.person_b)
    decided = file_dispute(app, world.person_a, world.user_a, [loan], files=[Upload("a.pdf", PDF)])
    opened = file_dispute(app, world.person_a, world.user_a, [card], files=[Upload("b.pdf", PDF)])
    of_b = file_dispute(app, world.person_b, world.user_b, [loan_b], files=[Upload("c.pdf", PDF)])
    officer_id = make_officer(app)
    with app.app_context():
        s, v = session(), vault()
        d, officer = s.get(Dispute, decided), s.get(User, officer_id)
        for to in (DisputeStatus.ACKNOWLEDGED, DisputeStatus.UNDER_REVIEW):
            lifecycle.advance(s, v, d, to, officer)
        d.assigned_officer_id = officer.id
        decisions.decide(s, v, d, officer, "verified_accurate", "Confirmed by the bank.")
        event = record_event(
            s,
            v,
            s.get(Subject, world.person_a.id),
            EventKind.INSTITUTION_QUERY,
            channel="api",
            institution_id=world.bank.id,
            purpose="loan_approval",
        )
        s.commit()
        files = {e.dispute_id: e.id for e in s.scalars(select(Evidence))}
    return {
        "loan": loan,
        "card": card,
        "loan_b": loan_b,
        "decided": decided,
        "opened": opened,
        "of_b": of_b,
        "event": event.id,
        "files": files,
    }


def a_urls(world, c) -> tuple[list[str], list[str]]:
    """(GET urls, POST urls) of person A's disputes."""
    base = f"/subjects/{world.person_a.id}/disputes"
    d, o = c["decided"], c["opened"]
    gets = [
        base,
        f"{base}/new",
        f"{base}/new?record={c['loan']}",
        f"{base}/new?event={c['event']}",
        f"{base}/{d}",
        f"{base}/{o}",
        f"{base}/{o}/withdraw",
        f"{base}/{d}/letter.pdf",
        f"{base}/{d}/evidence/{c['files'][d]}",
        f"{base}/{o}/evidence/{c['files'][o]}",
        f"/subjects/{world.person_a.id}/access/{c['event']}/complaint",
    ]
    posts = [
        f"{base}/new",
        f"{base}/{o}/evidence",
        f"{base}/{o}/withdraw",
        f"{base}/{d}/records/{c['loan']}/statement",
        f"/subjects/{world.person_a.id}/access/{c['event']}/complaint",
    ]
    return gets, posts


def test_the_owner_reaches_every_url(app, world, sign_in, cases):
    client = signed(app, sign_in, world.user_a)
    gets, _posts = a_urls(world, cases)
    for url in gets:
        assert client.get(url).status_code in (200, 302), url


@pytest.mark.parametrize("intruder", ["user_b", "rep_g", "agent_g", "agent_f"])
def test_nobody_else_reaches_a_dispute(app, world, sign_in, cases, intruder):
    """agent_f acts for firm F, not for person A: 404 like anyone else."""
    client = signed(app, sign_in, getattr(world, intruder))
    gets, posts = a_urls(world, cases)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "张三".encode() not in response.data
        assert PDF not in response.data
    t = token(client, "/account")
    for url in posts:
        assert client.post(url, data={"csrf_token": t, "statement": "x", "note": "x"}).status_code == 404, url
    with app.app_context():
        s = session()
        assert s.get(Dispute, cases["opened"]).status is DisputeStatus.SUBMITTED
        assert s.scalar(select(RecordStatement.id)) is None


def test_anonymous_visitors_are_sent_to_sign_in(app, world, cases):
    client = app.test_client()
    gets, _posts = a_urls(world, cases)
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url


def test_another_subjects_dispute_under_ones_own_subject_id_is_not_found(app, world, sign_in, cases):
    """Person B, on B's own subject URL, asks for A's dispute and files."""
    client = signed(app, sign_in, world.user_b)
    base = f"/subjects/{world.person_b.id}/disputes"
    d, o = cases["decided"], cases["opened"]
    for url in (
        f"{base}/{d}",
        f"{base}/{o}/withdraw",
        f"{base}/{d}/letter.pdf",
        f"{base}/{d}/evidence/{cases['files'][d]}",
        f"{base}/new?record={cases['loan']}",
        f"{base}/new?event={cases['event']}",
        f"/subjects/{world.person_b.id}/access/{cases['event']}/complaint",
    ):
        assert client.get(url).status_code == 404, url
    # B's own dispute, with A's file id in the URL.
    assert client.get(f"{base}/{cases['of_b']}/evidence/{cases['files'][d]}").status_code == 404
    assert client.get(f"{base}/{cases['of_b']}/evidence/{cases['files'][cases['of_b']]}").status_code == 200
    # B's list shows B's dispute only.
    html = client.get(base).get_data(as_text=True)
    assert str(cases["of_b"]) in html
    assert str(d) not in html
    assert str(o) not in html


def test_a_file_of_one_dispute_through_another_disputes_url_is_not_found(app, world, sign_in, cases):
    """Both disputes are A's, and A is signed in: the URL must still match."""
    client = signed(app, sign_in, world.user_a)
    base = f"/subjects/{world.person_a.id}/disputes"
    d, o = cases["decided"], cases["opened"]
    assert client.get(f"{base}/{o}/evidence/{cases['files'][d]}").status_code == 404
    assert client.get(f"{base}/{d}/evidence/{cases['files'][o]}").status_code == 404
    assert client.get(f"{base}/{o}/evidence/{cases['files'][o]}").status_code == 200
    # A record of another dispute through this one's statement URL.
    page = f"{base}/{d}"
    prefix = f"statement-{cases['card'].hex}"
    response = client.post(
        f"{page}/records/{cases['card']}/statement",
        data={f"{prefix}-csrf_token": token(client, page), f"{prefix}-text": "hello"},
    )
    assert response.status_code == 404
    # Filing with another subject's record posted by hand: refused, nothing written.
    new = f"{base}/new"
    response = client.post(
        new,
        data={
            "csrf_token": token(client, new),
            "records": [str(cases["loan_b"])],
            "reason": "not_mine",
            "statement": "mine?",
        },
    )
    assert response.status_code == 200
    assert "Choose records from your own report." in response.get_data(as_text=True)
    with app.app_context():
        assert len(session().scalars(select(Dispute.id)).all()) == 3
