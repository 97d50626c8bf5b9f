"""The subject's own credit file as a user sees it: the dashboard, the
report, who may see them, and the access event every view leaves."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pyotp
import pytest
from sqlalchemy import select

from portal.accounts.models import FirmDelegation, Role
from portal.accounts.services import create_user
from portal.audit.events import recent_events
from portal.audit.models import AccessEvent, EventKind
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.records.identifiers import resident_id_check
from portal.records.models import Category, RecordStatus, Subject, SubjectKind
from portal.records.services import RecordInput, create_subject, furnish


# -- helpers (test_exports.py uses them too) -----------------------------------
def furnish_record(
    app,
    world,
    subject,
    reference,
    *,
    category=Category.LOAN,
    status=RecordStatus.ACTIVE,
    negative=False,
    ended_on=None,
    **details,
):
    """A record (or a new version of one) furnished by the world's bank."""
    details = {"currency": "CNY", "principal": "1000.00", **details}
    with app.app_context():
        s = session()
        furnish(
            s,
            vault(),
            s.get(Institution, world.bank.id),
            s.get(Subject, subject.id),
            RecordInput(category, reference, status, negative, ended_on, details),
        )
        s.commit()


def events_of(app, subject):
    """The subject's access events, newest first, with their details."""
    with app.app_context():
        s = session()
        return recent_events(s, vault(), s.get(Subject, subject.id), limit=1000)


def actors_of(app, subject):
    with app.app_context():
        return list(
            session().scalars(
                select(AccessEvent.actor_user_id)
                .where(AccessEvent.subject_id == subject.id)
                .order_by(AccessEvent.occurred_at.desc())
            )
        )


def english(client):
    client.set_cookie("lang", "en")
    return client


def urls(subject_id):
    return [
        f"/subjects/{subject_id}",
        f"/subjects/{subject_id}/report",
        f"/subjects/{subject_id}/export.json",
        f"/subjects/{subject_id}/report.pdf",
    ]


# -- dashboard ----------------------------------------------------------------
def test_me_shows_a_persons_own_dashboard(app, client, world, sign_in):
    page = english(sign_in(client, world.user_a)).get("/me").get_data(as_text=True)
    assert "张三" in page
    assert "110105********002X" in page
    assert "11010519491231002X" not in page  # only masked
    assert re.search(r'<th scope="row">Loans</th><td>2</td>', page)
    assert re.search(r'<th scope="row">Credit cards</th><td>0</td>', page)
    assert "Open disputes: none." in page
    assert f'href="/subjects/{world.person_a.id}/report"' in page
    assert f'href="/subjects/{world.person_a.id}/export.json"' in page
    assert f'href="/subjects/{world.person_a.id}/report.pdf"' in page
    assert "/agents" not in page  # only a firm's representative manages agents


def test_dashboard_shows_negative_items_with_their_expiry(app, client, world, sign_in):
    furnish_record(app, world, world.person_a, "A-OVERDUE", status=RecordStatus.OVERDUE, negative=True)
    page = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}").get_data(as_text=True)
    # A-CARD-1 ended on 2023-03-01, so it leaves the file five years later.
    assert '<time datetime="2028-03-01">' in page
    assert "While ongoing" in page
    assert re.search(r'<th scope="row">Loans</th><td>3</td>', page)


def test_dashboard_counts_the_current_version_only(app, client, world, sign_in):
    """A correction (a new version) replaces the old one: the record is
    counted once, and a negative item corrected away leaves the list."""
    furnish_record(app, world, world.person_a, "A-CARD-1", status=RecordStatus.CLOSED)
    page = english(sign_in(client, world.user_a)).get("/me").get_data(as_text=True)
    assert re.search(r'<th scope="row">Loans</th><td>2</td>', page)
    assert "There is no negative information in this file." in page
    assert '<time datetime="2028-03-01">' not in page


def test_dashboard_lists_recent_access_with_an_empty_state_first(app, client, world, sign_in):
    english(sign_in(client, world.user_a))
    first = client.get("/me").get_data(as_text=True)
    assert "No access has been recorded yet." in first
    client.get(f"/subjects/{world.person_a.id}/report")
    second = client.get("/me").get_data(as_text=True)
    assert "No access has been recorded yet." not in second
    assert second.count("Viewed on the portal") == 2  # the first dashboard view and the report view
    for _ in range(6):
        client.get("/me")
    assert client.get("/me").get_data(as_text=True).count("Viewed on the portal") == 5  # the latest five only


def test_firm_representative_gets_a_link_to_manage_agents(app, client, world, sign_in):
    page = sign_in(client, world.rep_f).get("/me").get_data(as_text=True)
    assert "福州示例科技有限公司" in page
    assert f'href="/firms/{world.firm_f.id}/agents"' in page


def test_agent_of_several_firms_chooses_a_firm(app, client, world, sign_in):
    with app.app_context():
        session().add(
            FirmDelegation(
                firm_id=world.firm_g.id,
                agent_id=world.agent_f.id,
                granted_by_id=world.rep_g.id,
                scopes=["view_report"],
                valid_until=date(2999, 1, 1),
            )
        )
        session().commit()
    page = english(sign_in(client, world.agent_f)).get("/me").get_data(as_text=True)
    assert f'href="/subjects/{world.firm_f.id}"' in page
    assert f'href="/subjects/{world.firm_g.id}"' in page
    assert "福州示例科技有限公司" in page
    assert "北京示例贸易有限公司" in page
    assert events_of(app, world.firm_f) == []
    assert events_of(app, world.firm_g) == []
    assert "/agents" not in client.get(f"/subjects/{world.firm_g.id}").get_data(as_text=True)


def test_user_without_a_file_sees_an_empty_state(app, client, world, sign_in):
    with app.app_context():
        lonely = create_user(
            session(),
            vault(),
            role=Role.FIRM_AGENT,
            email="lonely@test.example",
            display_name="lonely",
            totp_secret=pyotp.random_base32(),  # agents must have a second factor
        )
        session().commit()
    response = english(sign_in(client, lonely)).get("/me")
    assert response.status_code == 200
    assert "No credit file is linked to your account." in response.get_data(as_text=True)


# -- report --------------------------------------------------------------------
def test_report_lists_own_records_and_never_anothers(app, client, world, sign_in):
    page = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert "A-LOAN-1" in page
    assert "A-CARD-1" in page
    assert "B-LOAN-1" not in page
    assert "F-LOAN-1" not in page
    assert "Test Bank" in page
    assert "<details>" in page
    assert "Under dispute" not in page  # nothing is disputed yet
    assert '<time datetime="2028-03-01">' in page


def test_report_names_the_furnisher_in_the_chosen_language(app, client, world, sign_in):
    sign_in(client, world.user_a)
    assert "测试银行" in client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    assert "测试银行" not in english(client).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)


def test_report_groups_records_in_category_order(app, client, world, sign_in):
    furnish_record(
        app,
        world,
        world.person_a,
        "A-WATER-1",
        category=Category.UTILITY_ARREARS,
        status=RecordStatus.OVERDUE,
        negative=True,
        amount="120.50",
    )
    furnish_record(app, world, world.person_a, "A-CARD-9", category=Category.CREDIT_CARD, credit_limit="9000")
    page = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    headings = re.findall(r"<h2[^>]*>([^<]+)</h2>", page)
    assert headings == ["Loans", "Credit cards", "Utility arrears"]
    assert "Credit limit" in page
    assert "9,000.00" in page


def test_version_history_keeps_the_older_version(app, client, world, sign_in):
    furnish_record(
        app,
        world,
        world.person_a,
        "A-LOAN-1",
        status=RecordStatus.CLOSED,
        balance="0.00",
        closed_on="2024-06-30",
        principal="50000.00",
    )
    page = english(sign_in(client, world.user_a)).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    (article,) = [a for a in page.split("<article")[1:] if "A-LOAN-1" in a]
    history = article[article.index("<details>") : article.index("</details>")]
    assert "Version 2" in history
    assert "Version 1" in history
    assert history.index("Version 2") < history.index("Version 1")  # newest first
    assert "Closed in good standing" in history
    assert "Active, paid as agreed" in history
    assert '<time datetime="2024-06-30">' in history


def test_report_pages_hold_twenty_records(app, client, world, sign_in):
    for n in range(25):
        furnish_record(app, world, world.person_a, f"A-BULK-{n:02d}")
    english(sign_in(client, world.user_a))
    first = client.get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    second = client.get(f"/subjects/{world.person_a.id}/report?page=2").get_data(as_text=True)
    assert first.count('<article class="record') == 20
    assert second.count('<article class="record') == 7
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second
    references = {f"A-BULK-{n:02d}" for n in range(25)} | {"A-LOAN-1", "A-CARD-1"}
    assert {r for r in references if r in first} | {r for r in references if r in second} == references
    assert not {r for r in references if r in first} & {r for r in references if r in second}


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "3", "999", "9" * 5000])
def test_a_page_that_does_not_exist_is_not_found(app, client, world, sign_in, page):
    for n in range(25):
        furnish_record(app, world, world.person_a, f"A-BULK-{n:02d}")
    response = sign_in(client, world.user_a).get(f"/subjects/{world.person_a.id}/report?page={page}")
    assert response.status_code == 404


def test_empty_file_has_an_empty_report(app, client, world, sign_in):
    body = "11010519900101001"
    with app.app_context():
        c = create_subject(session(), vault(), SubjectKind.PERSON, body + resident_id_check(body), "王五")
        user_c = create_user(
            session(), vault(), role=Role.PERSON, email="c@test.example", display_name="c", subject_id=c.id
        )
        session().commit()
    english(sign_in(client, user_c))
    response = client.get(f"/subjects/{c.id}/report")
    assert response.status_code == 200
    assert "No records are held in this file." in response.get_data(as_text=True)
    assert "There is no negative information in this file." in client.get("/me").get_data(as_text=True)


def test_payload_html_comes_back_escaped(app, client, world, sign_in):
    furnish_record(
        app,
        world,
        world.person_a,
        "A-EVIL-1",
        note="<script>alert(1)</script>",
        case_number='<img src=x onerror="alert(2)">',
        principal="<b>not money</b>",
        currency="<u>",
        amount="5",
        **{"<i>key</i>": "value"},
    )
    page = sign_in(client, world.user_a).get(f"/subjects/{world.person_a.id}/report").get_data(as_text=True)
    for raw in ("<script>alert(1)", "<img src=x", "<b>not money", "<u>", "<i>key"):
        assert raw not in page
    assert "&lt;i&gt;key&lt;/i&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;not money&lt;/b&gt;" in page  # an amount that is not one is shown as text


# -- access events --------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "kind", "detail"),
    [
        ("", EventKind.SELF_QUERY, {"what": "dashboard"}),
        ("/report", EventKind.SELF_QUERY, {"what": "report", "page": 1}),
        ("/export.json", EventKind.EXPORT, {"what": "report", "format": "json"}),
        ("/report.pdf", EventKind.EXPORT, {"what": "report", "format": "pdf"}),
    ],
)
def test_every_view_and_export_is_an_access_event(app, client, world, sign_in, path, kind, detail):
    response = sign_in(client, world.user_a).get(f"/subjects/{world.person_a.id}{path}")
    assert response.status_code == 200
    (event,) = events_of(app, world.person_a)
    assert event.kind is kind
    assert event.channel == "web"
    if path.endswith(".pdf"):  # a signed document: its event carries its number and the file's hash
        assert re.fullmatch(r"CSP(-[A-Z2-9]{4}){3}", event.detail.pop("document"))
        assert event.detail.pop("sha256") == hashlib.sha256(response.data).hexdigest()
    assert event.detail == {**detail, "role": "person"}
    assert actors_of(app, world.person_a) == [world.user_a.id]


def test_an_agents_view_records_the_delegation_used(app, client, world, sign_in):
    with app.app_context():
        delegation = session().scalar(select(FirmDelegation).where(FirmDelegation.agent_id == world.agent_f.id))
    page = english(sign_in(client, world.agent_f)).get("/me").get_data(as_text=True)
    assert "You act for this firm as its agent." in page
    client.get(f"/subjects/{world.firm_f.id}/report?page=1")
    report, dashboard = events_of(app, world.firm_f)
    assert dashboard.detail == {"what": "dashboard", "role": "firm_agent", "via_delegation": str(delegation.id)}
    assert report.detail == {"what": "report", "page": 1, "role": "firm_agent", "via_delegation": str(delegation.id)}
    assert actors_of(app, world.firm_f) == [world.agent_f.id, world.agent_f.id]
    assert "An agent of the firm" in client.get("/me").get_data(as_text=True)


# -- who may see what -------------------------------------------------------------
@pytest.mark.parametrize("intruder", ["user_b", "agent_g", "rep_g", "rep_f", "agent_f"])
def test_others_get_not_found_on_a_persons_file(app, client, world, sign_in, intruder):
    sign_in(client, getattr(world, intruder))
    for url in urls(world.person_a.id):
        assert client.get(url).status_code == 404, url
    assert events_of(app, world.person_a) == []


@pytest.mark.parametrize("intruder", ["user_a", "agent_g", "rep_g"])
def test_others_get_not_found_on_a_firms_file(app, client, world, sign_in, intruder):
    sign_in(client, getattr(world, intruder))
    for url in urls(world.firm_f.id):
        assert client.get(url).status_code == 404, url


def test_a_revoked_agent_gets_not_found(app, client, world, sign_in):
    from portal.db import utcnow

    with app.app_context():
        delegation = session().scalar(select(FirmDelegation).where(FirmDelegation.agent_id == world.agent_f.id))
        delegation.revoked_at = utcnow()
        session().commit()
    sign_in(client, world.agent_f)
    for url in urls(world.firm_f.id):
        assert client.get(url).status_code == 404, url


def test_anonymous_is_sent_to_sign_in(client, world):
    for url in ["/me", *urls(world.person_a.id)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url


def test_pages_are_never_cached(app, client, world, sign_in):
    sign_in(client, world.user_a)
    for url in ["/me", *urls(world.person_a.id)]:
        assert client.get(url).headers["Cache-Control"] == "no-store", url
