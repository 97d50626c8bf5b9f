"""The subject's side of access: who accessed my data (filters, pages,
what was disclosed, proofs), authorities and the lock, and "I did not
authorise this", which files a dispute of the access."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import worker
from portal.access.models import Complaint, Consent
from portal.accounts.models import User
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.extensions import session, vault
from portal.localtime import today as portal_today
from portal.notifications import services as notifications
from portal.records.models import Subject

from ..factories import integrate

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def english(client):
    client.set_cookie("lang", "en")
    return client


def post(client, url, data=None, page=None):
    token = TOKEN.search(client.get(page or url).get_data(as_text=True)).group(1)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def queries(app, world, n=3, outcome=Outcome.SERVED, logged=True):
    """Institution queries about person A, as the API records them; then,
    unless `logged` is False, integrated into the log as the worker does."""
    with app.app_context():
        s, v = session(), vault()
        a = s.get(Subject, world.person_a.id)
        for i in range(n):
            record_event(
                s,
                v,
                a,
                EventKind.INSTITUTION_QUERY,
                channel="api",
                outcome=outcome,
                institution_id=world.bank.id,
                purpose="loan_approval",
                detail={"basis": "consent", "n": i},
            )
        s.commit()
        if logged:
            integrate(s)


def test_the_log_lists_institution_queries_with_purpose_and_outcome(app, world, sign_in):
    queries(app, world, 2)
    queries(app, world, 1, Outcome.REFUSED)
    client = english(sign_in(app.test_client(), world.user_a))
    html = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert html.count("Test Bank") >= 3
    assert "Loan approval" in html
    assert "Refused" in html
    assert "Served" in html
    assert "I did not authorise this" in html
    assert 'data-proof-url="' in html
    assert "verify.js" in html


def test_filters_narrow_the_list_and_bad_filters_are_errors_not_crashes(app, world, sign_in):
    queries(app, world, 2)
    queries(app, world, 1, Outcome.REFUSED)
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/access"
    refused = client.get(url, query_string={"outcome": "refused"}).get_data(as_text=True)
    assert refused.count('class="outcome-refused"') == 1
    assert 'class="outcome-served"' not in refused
    future = client.get(url, query_string={"since": (portal_today() + timedelta(days=1)).isoformat()})
    assert "Nothing matches these filters." in future.get_data(as_text=True)
    for bad in (
        {"outcome": "maybe"},
        {"since": "yesterday"},
        {"institution": "not-a-uuid"},
        {"since": "2026-05-02", "until": "2026-05-01"},
    ):
        response = client.get(url, query_string=bad)
        assert response.status_code == 200, bad
        assert 'class="error"' in response.get_data(as_text=True), bad
    assert client.get(url, query_string={"page": "0"}).status_code == 404
    assert client.get(url, query_string={"page": "99"}).status_code == 404


def test_viewing_the_log_is_itself_recorded(app, world, sign_in):
    client = sign_in(app.test_client(), world.user_a)
    client.get(f"/subjects/{world.person_a.id}/access")
    with app.app_context():
        kinds = session().scalars(select(AccessEvent.kind).where(AccessEvent.subject_id == world.person_a.id)).all()
    assert EventKind.SELF_QUERY in kinds


def test_an_event_not_yet_in_the_log_says_so_and_gets_its_proof_once_there(app, world, sign_in):
    queries(app, world, 1, logged=False)
    client = english(sign_in(app.test_client(), world.user_a))
    with app.app_context():
        event_id = session().scalar(select(AccessEvent.id).where(AccessEvent.subject_id == world.person_a.id))
    html = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert "Being added to the log" in html
    assert f"/access/{event_id}/proof.json" not in html
    proof_url = f"/subjects/{world.person_a.id}/access/{event_id}/proof.json"
    assert client.get(proof_url).status_code == 404
    with app.app_context():
        assert integrate(session()) >= 1
    html = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    assert f"/access/{event_id}/proof.json" in html
    assert "Being added to the log" not in html.split(str(event_id))[0].rsplit("<tr", 1)[-1]
    assert client.get(proof_url).get_json()["leaf_index"] >= 0


def test_a_pages_proofs_come_in_one_request_for_the_subjects_own_events_only(app, world, sign_in):
    queries(app, world, 3)
    queries(app, world, 1, logged=False)  # still queued: no proof yet
    with app.app_context():
        ids = (
            session()
            .scalars(
                select(AccessEvent.id)
                .where(AccessEvent.subject_id == world.person_a.id)
                .order_by(AccessEvent.occurred_at)
            )
            .all()
        )
    own = sign_in(app.test_client(), world.user_a)
    url = f"/subjects/{world.person_a.id}/access/proofs.json?" + "&".join(f"event={i}" for i in ids)
    response = own.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    bundles = response.get_json()["bundles"]
    assert set(bundles) == {str(i) for i in ids[:3]}
    for event_id, bundle in bundles.items():
        assert json.loads(bundle["event"])["id"] == event_id
        assert bundle == own.get(f"/subjects/{world.person_a.id}/access/{event_id}/proof.json").get_json()
    assert len({b["checkpoint"] for b in bundles.values()}) == 1  # one checkpoint for the page
    other = sign_in(app.test_client(), world.user_b)
    assert other.get(url).status_code == 404  # not B's file
    theirs = url.replace(str(world.person_a.id), str(world.person_b.id))
    assert other.get(theirs).get_json()["bundles"] == {}  # A's events under B's file: none
    assert own.get(f"/subjects/{world.person_a.id}/access/proofs.json").get_json() == {"bundles": {}, "waiting": []}
    assert own.get(f"/subjects/{world.person_a.id}/access/proofs.json?event=nope").status_code == 400
    too_many = "&".join(f"event={ids[0]}" for _ in range(101))
    assert own.get(f"/subjects/{world.person_a.id}/access/proofs.json?{too_many}").status_code == 400


def test_proof_bundle_is_served_to_the_subject_only(app, world, sign_in):
    queries(app, world, 1)
    with app.app_context():
        event_id = session().scalar(select(AccessEvent.id).where(AccessEvent.subject_id == world.person_a.id))
    own = sign_in(app.test_client(), world.user_a).get(f"/subjects/{world.person_a.id}/access/{event_id}/proof.json")
    assert own.status_code == 200
    bundle = own.get_json()
    assert {"event", "salt", "leaf_index", "proof", "checkpoint"} <= set(bundle)
    assert json.loads(bundle["event"])["id"] == str(event_id)
    other = sign_in(app.test_client(), world.user_b)
    assert other.get(f"/subjects/{world.person_a.id}/access/{event_id}/proof.json").status_code == 404
    assert other.get(f"/subjects/{world.person_b.id}/access/{event_id}/proof.json").status_code == 404


def test_i_did_not_authorise_this_files_a_dispute_of_the_access(app, world, sign_in):
    """The log's link opens the dispute form with the event and the reason
    set; the old complaint address leads there too; no complaint is made."""
    from portal.disputes.models import Dispute, DisputeReason

    queries(app, world, 1)
    with app.app_context():
        event_id = session().scalar(select(AccessEvent.id).where(AccessEvent.kind == EventKind.INSTITUTION_QUERY))
    client = english(sign_in(app.test_client(), world.user_a))
    log = client.get(f"/subjects/{world.person_a.id}/access").get_data(as_text=True)
    new = f"/subjects/{world.person_a.id}/disputes/new"
    assert f"{new}?event={event_id}&amp;reason=unauthorised_access" in log
    old = f"/subjects/{world.person_a.id}/access/{event_id}/complaint"
    for method in ("GET", "POST"):
        moved = client.open(old, method=method, data={"csrf_token": TOKEN.search(log).group(1)})
        assert moved.status_code in (302, 303)
        assert moved.headers["Location"].endswith(f"{new}?event={event_id}&reason=unauthorised_access")
    form = client.get(f"{new}?event={event_id}&reason=unauthorised_access").get_data(as_text=True)
    assert "Test Bank" in form
    assert 'selected value="unauthorised_access"' in form
    empty = post(
        client,
        new,
        {"event": str(event_id), "reason": "unauthorised_access", "statement": "   "},
        page=f"{new}?event={event_id}",
    )
    assert empty.status_code == 200
    assert "Say what is wrong" in empty.get_data(as_text=True)
    done = post(
        client,
        new,
        {
            "event": str(event_id),
            "reason": "unauthorised_access",
            "statement": "I never applied for a loan at <b>this bank</b>.",
        },
        page=f"{new}?event={event_id}",
    )
    assert done.status_code == 302
    with app.app_context():
        (dispute,) = session().scalars(select(Dispute)).all()
        assert dispute.access_event_id == event_id
        assert dispute.reason is DisputeReason.UNAUTHORISED_ACCESS
        assert session().scalar(select(func.count()).select_from(Complaint)) == 0
    again = client.get(f"{new}?event={event_id}").get_data(as_text=True)
    assert "An open dispute already covers this access." in again
    for intruder in (world.agent_g, world.user_b):
        assert sign_in(app.test_client(), intruder).get(old).status_code == 404


def test_complaints_filed_before_disputes_stay_readable(app, world, sign_in):
    from portal.access import complaints
    from portal.db import new_id

    queries(app, world, 1)
    with app.app_context():
        s, v = session(), vault()
        a = s.get(Subject, world.person_a.id)
        event = s.scalar(select(AccessEvent).where(AccessEvent.kind == EventKind.INSTITUTION_QUERY))
        old = Complaint(
            id=new_id(), subject_id=a.id, event_id=event.id, filed_by_user_id=world.user_a.id, status="open"
        )
        v.cipher(s, a.data_key_id).seal_field(old, "statement", "Filed in the old days.")
        s.add(old)
        s.commit()
        assert complaints.complained(s, event)
        assert [complaints.statement(s, v, c) for c in complaints.complaints_of(s, a)] == ["Filed in the old days."]
    html = (
        english(sign_in(app.test_client(), world.user_a))
        .get(f"/subjects/{world.person_a.id}/access")
        .get_data(as_text=True)
    )
    assert "Complaint sent" in html
    assert "I did not authorise this" not in html


def test_grant_see_and_revoke_an_authority(app, world, sign_in):
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/consents"
    assert "You have not authorised anyone yet." in client.get(url).get_data(as_text=True)
    until = (portal_today() + timedelta(days=30)).isoformat()
    response = post(client, url, {"institution": str(world.bank.id), "purpose": "loan_approval", "valid_until": until})
    assert response.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "Test Bank" in html
    assert "In force" in html
    with app.app_context():
        consent = session().scalar(select(Consent))
    assert post(client, f"{url}/{consent.id}/revoke", page=url).status_code == 302
    assert "Revoked" in client.get(url).get_data(as_text=True)
    with app.app_context():
        kinds = set(session().scalars(select(AccessEvent.kind).where(AccessEvent.subject_id == world.person_a.id)))
    assert {EventKind.CONSENT_GRANTED, EventKind.CONSENT_REVOKED} <= kinds


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (portal_today() - timedelta(days=1), "today or a later date"),
        (portal_today() + timedelta(days=400), "at most one year"),
    ],
)
def test_bad_grants_are_refused_with_a_message(app, world, sign_in, until, message):
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/consents"
    response = post(
        client, url, {"institution": str(world.bank.id), "purpose": "loan_approval", "valid_until": until.isoformat()}
    )
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Consent)) == 0


def test_authority_dates_are_the_portals_calendar_days(app, world, sign_in, monkeypatch):
    """At 20:30 UTC on 1 March it is already 2 March in Beijing (the default
    zone): that is the first day an authority may end on, and a year from
    it the last, whatever the server's own clock says."""
    from datetime import UTC, datetime

    import portal.localtime

    monkeypatch.setattr(portal.localtime, "utcnow", lambda: datetime(2026, 3, 1, 20, 30, tzinfo=UTC))
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/consents"
    assert 'value="2026-05-31"' in client.get(url).get_data(as_text=True)  # the default: 90 days on
    yesterday = post(
        client, url, {"institution": str(world.bank.id), "purpose": "loan_approval", "valid_until": "2026-03-01"}
    )
    assert yesterday.status_code == 200
    assert "today or a later date" in yesterday.get_data(as_text=True)
    a_year_on = post(
        client, url, {"institution": str(world.bank.id), "purpose": "loan_approval", "valid_until": "2027-03-02"}
    )
    assert a_year_on.status_code == 302
    with app.app_context():
        assert session().scalar(select(Consent.valid_until)) == date(2027, 3, 2)


def query_as_bank(app, world):
    """The bank asks for A's report through the API, under a live grant."""
    from portal.access import consents as grants
    from portal.institutions.models import ApiScope, Institution
    from portal.institutions.services import issue_api_key

    with app.app_context():
        s, v = session(), vault()
        bank = s.get(Institution, world.bank.id)
        if not s.scalar(select(Consent.id)):
            grants.grant(
                s,
                v,
                s.get(Subject, world.person_a.id),
                bank,
                "loan_approval",
                portal_today() + timedelta(days=10),
                s.get(User, world.user_a.id),
            )
        token = issue_api_key(s, bank, [ApiScope.QUERY])
        s.commit()
    return app.test_client().get(
        "/api/v1/reports/11010519491231002X?purpose=loan_approval", headers={"Authorization": f"Bearer {token}"}
    )


def test_lock_and_unlock_take_effect_at_once(app, world, sign_in):
    client = english(sign_in(app.test_client(), world.user_a))
    url = f"/subjects/{world.person_a.id}/consents"
    assert post(client, f"/subjects/{world.person_a.id}/lock", {"state": "locked"}, page=url).status_code == 302
    post(client, f"/subjects/{world.person_a.id}/lock", {"state": "locked"}, page=url)  # sent twice: still locked
    with app.app_context():
        assert session().get(Subject, world.person_a.id).locked_at is not None
    assert "Your file is locked since" in client.get(url).get_data(as_text=True)
    bank = query_as_bank(app, world)
    assert bank.status_code == 403
    assert bank.get_json(force=True)["reason"] == "file_locked"
    post(client, f"/subjects/{world.person_a.id}/lock", {"state": "unlocked"}, page=url)
    with app.app_context():
        assert session().get(Subject, world.person_a.id).locked_at is None
        kinds = set(session().scalars(select(AccessEvent.kind).where(AccessEvent.subject_id == world.person_a.id)))
    assert {EventKind.LOCK_SET, EventKind.LOCK_RELEASED} <= kinds
    assert query_as_bank(app, world).status_code == 200  # unlocked: served again


def test_agents_see_the_log_but_cannot_change_authorities_or_the_lock(app, world, sign_in):
    agent = sign_in(app.test_client(), world.agent_f)
    assert agent.get(f"/subjects/{world.firm_f.id}/access").status_code == 200
    assert agent.get(f"/subjects/{world.firm_f.id}/consents").status_code == 403  # the representative's alone
    token = TOKEN.search(agent.get("/account").get_data(as_text=True)).group(1)
    assert agent.post(f"/subjects/{world.firm_f.id}/lock", data={"csrf_token": token}).status_code == 403


def test_an_institution_query_is_told_to_the_subject_served_or_refused(app, world):
    """Through the real API: the subject hears of each query, from the worker."""
    from portal.access import consents as grants
    from portal.institutions.models import ApiScope, Institution
    from portal.institutions.services import issue_api_key

    with app.app_context():
        s, v = session(), vault()
        bank = s.get(Institution, world.bank.id)
        token = issue_api_key(s, bank, [ApiScope.QUERY])
        s.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    refused = api.get("/api/v1/reports/11010519491231002X?purpose=loan_approval", headers=headers)
    assert refused.status_code == 403
    with app.app_context():
        s, v = session(), vault()
        grants.grant(
            s,
            v,
            s.get(Subject, world.person_a.id),
            s.get(Institution, world.bank.id),
            "loan_approval",
            portal_today() + timedelta(days=10),
            s.get(User, world.user_a.id),
        )
        s.commit()
    served = api.get("/api/v1/reports/11010519491231002X?purpose=loan_approval", headers=headers)
    assert served.status_code == 200

    def titles(user_id):
        with app.app_context():
            return [m.title for m in notifications.inbox(session(), vault(), session().get(User, user_id))[0]]

    assert titles(world.user_a.id) == []  # the request wrote no message: the worker tells
    worker.integrate_log(app)
    worker.tell_of_queries(app)
    assert titles(world.user_a.id) == ["测试银行 已获取您的信用报告", "测试银行 查询您的信用报告被拒绝"]  # newest first
    worker.tell_of_queries(app)  # each query is told once
    assert len(titles(world.user_a.id)) == 2
    assert titles(world.user_b.id) == []  # person B hears nothing


def test_a_query_is_told_in_the_readers_language(app, world):
    """Found by a walk through the portal: what institutions caused was
    always told in Chinese. The worker writes in the reader's saved language."""
    from portal.institutions.models import ApiScope, Institution
    from portal.institutions.services import issue_api_key

    with app.app_context():
        s = session()
        token = issue_api_key(s, s.get(Institution, world.bank.id), [ApiScope.QUERY])
        s.get(User, world.user_a.id).locale = "en"
        name_en = s.get(Institution, world.bank.id).name_en
        s.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        app.test_client().get("/api/v1/reports/11010519491231002X?purpose=loan_approval", headers=headers).status_code
        == 403
    )
    worker.integrate_log(app)
    worker.tell_of_queries(app)
    with app.app_context():
        (message,), _total = notifications.inbox(session(), vault(), session().get(User, world.user_a.id))
    assert message.title == f"{name_en} was refused your credit report"


def test_every_kind_of_event_has_a_name_people_can_read():
    from portal.audit.names import EVENT_NAMES

    assert set(EVENT_NAMES) == set(EventKind)
