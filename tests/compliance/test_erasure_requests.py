"""Erasure requests (issue 15, problem 3): a person asks for their file to be
erased, on a ground; the request waits in the officers' queue with its 30
days; an officer refuses with a reason the person reads, or accepts, which
crypto-shreds the file after a receipt went to the person's address; the
log still verifies afterwards."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.compliance.conflicts import declare_conflict
from portal.compliance.erasure import DEADLINE_DAYS, ErasureRequest, ErasureStatus
from portal.crypto.models import DataKey
from portal.extensions import session, vault
from portal.localtime import today
from portal.notifications.services import inbox, outbox
from portal.records.models import Subject
from tests import factories as make
from tests.officers import as_user

TOKEN = re.compile(r'name="(?:[a-z]+-)?csrf_token"[^>]*value="([^"]+)"')
QUEUE = "/compliance/erasure"


def form_token(client, url):
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return TOKEN.search(page.get_data(as_text=True)).group(1)


def ask(client, ground="not_needed", statement="I have no loans any more."):
    return client.post(
        "/account/erasure",
        data={"ground": ground, "statement": statement, "csrf_token": form_token(client, "/account/erasure")},
    )


def decide(client, request_id, action, **fields):
    url = f"{QUEUE}/{request_id}"
    data = {f"{action}-{k}": v for k, v in fields.items()}
    data[f"{action}-csrf_token"] = form_token(client, url)
    return client.post(f"{url}/{action}", data=data)


def only_request(app) -> ErasureRequest:
    with app.app_context():
        found = session().scalars(select(ErasureRequest)).one()
        session().expunge(found)
        return found


def events(app, subject_id, kind):
    with app.app_context():
        return (
            session()
            .scalars(select(AccessEvent).where(AccessEvent.subject_id == subject_id, AccessEvent.kind == kind))
            .all()
        )


@pytest.fixture
def person(app, world, sign_in):
    with app.app_context():
        session().get(User, world.user_a.id).locale = "en"
        session().commit()
    return as_user(app, sign_in, world.user_a)


def test_a_person_asks_and_sees_the_deadline(app, world, person):
    response = ask(person)
    assert response.status_code == 302
    filed = only_request(app)
    assert response.headers["Location"].endswith(f"/account/erasure/{filed.id}")
    assert filed.status is ErasureStatus.OPEN
    assert filed.due_on == today() + timedelta(days=DEADLINE_DAYS)
    page = person.get(f"/account/erasure/{filed.id}").get_data(as_text=True)
    assert "Waiting for a decision" in page
    assert "30 days left" in page
    assert "I have no loans any more." in page
    assert len(events(app, world.person_a.id, EventKind.ERASURE_REQUESTED)) == 1
    # One request at a time: a second one leads to the first.
    again = ask(person, statement="Again.")
    assert again.status_code == 302
    assert again.headers["Location"].endswith(f"/account/erasure/{filed.id}")
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ErasureRequest)) == 1


def test_another_ground_needs_an_explanation(app, person):
    response = ask(person, ground="other", statement="  ")
    assert response.status_code == 400
    assert "Explain the ground of your request." in response.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ErasureRequest)) == 0


def test_only_a_person_asks_and_only_for_their_own_file(app, world, sign_in, person):
    assert ask(person).status_code == 302
    filed = only_request(app)
    for other in (world.user_b, world.rep_f):
        client = as_user(app, sign_in, other)
        assert client.get(f"/account/erasure/{filed.id}").status_code == 404
    assert as_user(app, sign_in, world.rep_f).get("/account/erasure").status_code == 404


def test_the_request_waits_in_the_officers_queue_with_its_days(app, world, staff, sign_in, person):
    assert ask(person).status_code == 302
    filed = only_request(app)
    officer = as_user(app, sign_in, staff.officer)
    page = officer.get(QUEUE).get_data(as_text=True)
    assert f"/compliance/erasure/{filed.id}" in page
    assert "30 days left" in page
    assert "张**" in page  # masked
    case = officer.get(f"{QUEUE}/{filed.id}").get_data(as_text=True)
    assert "I have no loans any more." in case
    assert "Accept and erase the file" in case
    assert len(events(app, world.person_a.id, EventKind.ERASURE_VIEWED)) == 1
    officer.get(f"{QUEUE}/{filed.id}")
    assert len(events(app, world.person_a.id, EventKind.ERASURE_VIEWED)) == 1  # once a day
    # Nobody else reaches the queue.
    for outsider in (world.user_a, world.rep_f):
        assert as_user(app, sign_in, outsider).get(QUEUE).status_code == 404


def test_an_officer_linked_to_the_subject_never_sees_the_request(app, world, staff, sign_in, person):
    assert ask(person).status_code == 302
    filed = only_request(app)
    with app.app_context():
        s = session()
        declare_conflict(s, vault(), s.get(User, staff.officer.id), s.get(Subject, world.person_a.id))
        s.commit()
    officer = as_user(app, sign_in, staff.officer)
    assert str(filed.id) not in officer.get(QUEUE).get_data(as_text=True)
    assert officer.get(f"{QUEUE}/{filed.id}").status_code == 404
    tried = officer.post(
        f"{QUEUE}/{filed.id}/refuse", data={"refuse-reason": "No.", "refuse-csrf_token": form_token(officer, QUEUE)}
    )
    assert tried.status_code == 404
    assert only_request(app).status is ErasureStatus.OPEN


def test_a_refusal_gives_a_reason_the_person_reads(app, world, staff, sign_in, person):
    assert ask(person).status_code == 302
    filed = only_request(app)
    officer = as_user(app, sign_in, staff.officer)
    empty = decide(officer, filed.id, "refuse", reason="")
    assert empty.status_code == 400
    assert only_request(app).status is ErasureStatus.OPEN
    reason = "The Regulation requires the registry to keep records for five years after they end."
    assert decide(officer, filed.id, "refuse", reason=reason).status_code == 302
    assert only_request(app).status is ErasureStatus.REFUSED
    page = person.get(f"/account/erasure/{filed.id}").get_data(as_text=True)
    assert reason in page
    assert "Refused" in page
    with app.app_context():
        s = session()
        messages, _n = inbox(s, vault(), s.get(User, world.user_a.id))
        assert any(m.title == "Your erasure request was refused" and reason in m.body for m in messages)
    decided = events(app, world.person_a.id, EventKind.ERASURE_DECIDED)
    assert [e.outcome for e in decided] == [Outcome.REFUSED]
    # Decided once: accepting it now is refused.
    late = decide(officer, filed.id, "accept", understood="y")
    assert late.status_code == 302
    assert only_request(app).status is ErasureStatus.REFUSED


@pytest.mark.committing  # `audit verify` opens a snapshot transaction of its own
def test_accepting_erases_the_file_after_a_receipt_and_the_log_verifies(app, world, staff, sign_in, person):
    with app.app_context():
        make.integrate(session())
    assert ask(person).status_code == 302
    filed = only_request(app)
    officer = as_user(app, sign_in, staff.officer)
    unticked = decide(officer, filed.id, "accept")
    assert unticked.status_code == 400
    assert "Tick the box to confirm the erasure." in unticked.get_data(as_text=True)
    with app.app_context():
        assert session().get(Subject, world.person_a.id).shredded_at is None

    response = decide(officer, filed.id, "accept", understood="y")
    assert response.status_code == 302
    assert only_request(app).status is ErasureStatus.ACCEPTED
    with app.app_context():
        s = session()
        subject = s.get(Subject, world.person_a.id)
        assert subject.shredded_at is not None
        assert s.get(DataKey, subject.data_key_id).destroyed_at is not None
        assert not s.get(User, world.user_a.id).is_active
        # The receipt went before the key did, to the sign-in address, readable.
        receipts = [m for m in outbox(s, vault()) if m.email == "a@test.example"]
        assert [m.title for m in receipts] == ["Your credit file was erased"]
    assert person.get("/me").status_code == 302  # signed out: the login is closed
    page = officer.get(f"{QUEUE}/{filed.id}").get_data(as_text=True)
    assert "(erased)" in page
    assert officer.get(f"{QUEUE}?show=decided").status_code == 200

    with app.app_context():
        make.integrate(session())
        assert len(events(app, world.person_a.id, EventKind.ERASURE_DECIDED)) == 1
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_a_request_id_that_is_not_there_is_not_found(app, staff, sign_in):
    officer = as_user(app, sign_in, staff.officer)
    assert officer.get(f"{QUEUE}/{uuid.uuid4()}").status_code == 404
