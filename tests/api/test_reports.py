"""GET /api/v1/reports/{identifier}: served with a live consent or a legal
basis, refused otherwise (403 problem with the reason); every attempt is
exactly one access event the subject sees; what is served is kept as an
encrypted snapshot whose hash is sent along."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.access import consents, lock
from portal.accounts.models import User
from portal.audit import disclosures
from portal.audit.events import canonical_json, recent_events
from portal.audit.models import AccessEvent, Disclosure, EventKind, Outcome
from portal.localtime import today as portal_today
from portal.records.models import RecordVersion, Subject

from .conftest import bearer, count, counts, db, furnish_body, grant, is_problem

A, B, F = "11010519491231002X", "110105198001010016", "91350100M000100Y43"
NOT_ON_FILE = "110105198502030015"


def query(app, token, identifier=A, **params):
    params.setdefault("purpose", "loan_approval")
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    return app.test_client().get(f"/api/v1/reports/{identifier}?{qs}", headers=bearer(token))


def events_of(app, subject_id):
    with db(app) as (s, _v):
        return list(
            s.scalars(
                select(AccessEvent).where(
                    AccessEvent.subject_id == subject_id, AccessEvent.kind == EventKind.INSTITUTION_QUERY
                )
            )
        )


def the_event(app, subject_id, event_id):
    with db(app) as (s, v):
        [event] = [e for e in recent_events(s, v, s.get(Subject, subject_id), limit=100) if e.id == event_id]
        return event


def refused(app, response, reason, subject_id):
    """A 403 with the reason, and the refused attempt recorded."""
    problem = is_problem(response, 403)
    assert problem["reason"] == reason
    assert problem["type"].endswith("query-refused")
    event = the_event(app, subject_id, uuid.UUID(problem["event_id"]))
    assert event.kind is EventKind.INSTITUTION_QUERY
    assert event.outcome is Outcome.REFUSED
    assert event.detail["reason"] == reason
    assert "basis" not in event.detail
    assert count(app, Disclosure, Disclosure.event_id == event.id) == 0
    return problem, event


# -- served ---------------------------------------------------------------------------------
def test_a_live_consent_serves_the_report_and_keeps_exactly_what_was_sent(app, api):
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    before = count(app, AccessEvent)
    response = query(app, api.tokens["bank"], consent=consent)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert count(app, AccessEvent) == before + 1
    body = response.get_data()
    sent = response.get_json()
    sha = response.headers["Disclosure-SHA256"]
    assert sent["sha256"] == sha

    [event] = events_of(app, api.world.person_a.id)
    with db(app) as (s, v):
        row = s.scalar(select(Disclosure).where(Disclosure.event_id == event.id))
        snapshot = disclosures.open_snapshot(s, v, s.get(Subject, api.world.person_a.id), row)
        shown = disclosures.disclosure_for_event(s, v, s.get(Subject, api.world.person_a.id), event.id)
    # The snapshot is byte for byte the report member of the body, hashed.
    assert body == b'{"report":' + snapshot + b',"sha256":"' + sha.encode() + b'"}'
    assert hashlib.sha256(snapshot).hexdigest() == sha == row.snapshot_hash.hex() == shown.hash
    assert canonical_json(sent["report"]) == snapshot
    assert shown.report == sent["report"]
    assert row.institution_id == api.world.bank.id
    assert row.subject_id == api.world.person_a.id

    report = sent["report"]
    assert report["query"] == {
        "id": str(event.id),
        "at": report["query"]["at"],
        "institution": "test-bank",
        "purpose": "loan_approval",
        "basis": "consent",
        "consent": str(consent),
    }
    assert report["subject"] == {"kind": "person", "identifier": A, "name": "张三"}
    assert sorted(r["reference"] for r in report["records"]) == ["A-CARD-1", "A-LOAN-1"]
    for record in report["records"]:
        assert record["disputed"] is False
        assert record["statements"] == []
        assert record["furnisher"]["code"] == "test-bank"
    detail = the_event(app, api.world.person_a.id, event.id).detail
    assert event.outcome is Outcome.SERVED
    assert event.channel == "api"
    assert event.purpose == "loan_approval"
    assert event.institution_id == api.world.bank.id
    assert detail["basis"] == "consent"
    assert detail["consent"] == str(consent)
    assert detail["key_id"] == api.tokens["bank"][3:19]


def test_without_naming_it_the_live_consent_for_the_purpose_is_used(app, api):
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    response = query(app, api.tokens["bank"])
    assert response.status_code == 200
    assert response.get_json()["report"]["query"]["consent"] == str(consent)


def test_a_firm_is_found_by_its_credit_code(app, api):
    grant(app, api.world.firm_f.id, api.world.bank.id)
    response = query(app, api.tokens["bank"], F)
    assert response.status_code == 200
    assert response.get_json()["report"]["subject"]["kind"] == "firm"
    assert query(app, api.tokens["bank"], F, kind="firm").status_code == 200


def test_expired_negative_information_is_not_disclosed(app, api):
    """Even before the daily retention job removes it: a record whose five
    years ended since it was furnished is no longer disclosed."""
    nearly = (portal_today() - timedelta(days=5 * 365)).isoformat()  # inside its five years when furnished
    for body in (
        furnish_body(reference="OLD-1", status="settled", negative=True, ended_on=nearly),
        furnish_body(reference="NEW-1", status="settled", negative=True, ended_on="2024-01-31"),
    ):
        response = app.test_client().post("/api/v1/records", json=body, headers=bearer(api.tokens["bank"]))
        assert response.status_code == 201
        if body["record"]["reference"] == "OLD-1":
            with db(app) as (s, _v):  # time passes: its five years end
                s.execute(
                    update(RecordVersion)
                    .where(RecordVersion.record_id == uuid.UUID(response.get_json()["record_id"]))
                    .values(expires_on=portal_today() - timedelta(days=1))
                )
    grant(app, api.world.person_a.id, api.world.bank.id)
    references = {r["reference"] for r in query(app, api.tokens["bank"]).get_json()["report"]["records"]}
    assert "NEW-1" in references
    assert "OLD-1" not in references


# -- refused ----------------------------------------------------------------------------------
def test_without_consent_the_query_is_refused_and_recorded(app, api):
    before = counts(app)
    response = query(app, api.tokens["bank"])
    refused(app, response, "consent_required", api.world.person_a.id)
    after = counts(app)
    assert after["access_events"] == before["access_events"] + 1
    assert after["disclosures"] == before["disclosures"]


def test_expired_and_revoked_consents_are_refused(app, api):
    a, bank = api.world.person_a.id, api.world.bank.id
    expired = grant(app, a, bank, days=10, today=portal_today() - timedelta(days=20))
    problem, event = refused(app, query(app, api.tokens["bank"], consent=expired), "consent_expired", a)
    assert event.detail["consent"] == str(expired)
    refused(app, query(app, api.tokens["bank"]), "consent_required", a)  # an expired one is not used either

    live = grant(app, a, bank)
    assert query(app, api.tokens["bank"], consent=live).status_code == 200
    with db(app) as (s, v):
        subject = s.get(Subject, a)
        consents.revoke(s, v, subject, live, s.get(User, api.world.user_a.id))
    refused(app, query(app, api.tokens["bank"], consent=live), "consent_revoked", a)
    refused(app, query(app, api.tokens["bank"]), "consent_required", a)


def test_a_consent_of_another_subject_or_institution_or_purpose_is_refused(app, api):
    a, b = api.world.person_a.id, api.world.person_b.id
    of_b = grant(app, b, api.world.bank.id)
    problem, event = refused(app, query(app, api.tokens["bank"], consent=of_b), "consent_not_found", a)
    assert "consent" not in event.detail  # B's consent is not named in A's log
    to_lender = grant(app, a, api.ids.lender)
    refused(app, query(app, api.tokens["bank"], consent=to_lender), "consent_not_found", a)
    refused(
        app,
        query(app, api.tokens["lender"], consent=to_lender, purpose="credit_card_approval"),
        "consent_purpose_mismatch",
        a,
    )


def test_a_purpose_outside_the_institutions_allowed_purposes_is_refused(app, api):
    # The bank holds an open loan of A, but may query for loan approval only.
    refused(
        app,
        query(app, api.tokens["bank"], purpose="post_loan_management"),
        "purpose_not_allowed",
        api.world.person_a.id,
    )
    refused(
        app, query(app, api.tokens["employer"], purpose="loan_approval"), "purpose_not_allowed", api.world.person_a.id
    )


def test_self_query_is_never_for_an_institution(app, api):
    refused(
        app,
        query(app, api.tokens["bank"], purpose="self_query"),
        "self_query_not_for_institutions",
        api.world.person_a.id,
    )


# -- legal bases ------------------------------------------------------------------------------
def test_post_loan_management_needs_an_open_record_of_the_institution(app, api):
    b, token = api.world.person_b.id, api.tokens["lender"]
    refused(app, query(app, token, B, purpose="post_loan_management"), "no_existing_contract", b)
    post = app.test_client().post
    assert (
        post("/api/v1/records", json=furnish_body(B, name="李四", reference="L-9"), headers=bearer(token)).status_code
        == 201
    )
    response = query(app, token, B, purpose="post_loan_management")
    assert response.status_code == 200
    report = response.get_json()["report"]
    assert report["query"]["basis"] == "existing_contract"
    assert report["query"]["consent"] is None
    [event] = [e for e in events_of(app, b) if e.outcome is Outcome.SERVED]
    detail = the_event(app, b, event.id).detail
    assert detail["basis"] == "existing_contract"
    assert len(detail["records"]) == 1
    # Closed: the contract no longer exists.
    assert (
        post(
            "/api/v1/records",
            json=furnish_body(B, name="李四", reference="L-9", status="closed"),
            headers=bearer(token),
        ).status_code
        == 201
    )
    refused(app, query(app, token, B, purpose="post_loan_management"), "no_existing_contract", b)


def test_the_lock_refuses_a_bank_at_once_and_unlocking_restores_it(app, api):
    a = api.world.person_a.id
    consent = grant(app, a, api.world.bank.id)
    with db(app) as (s, v):
        assert lock.set_lock(s, v, s.get(Subject, a), s.get(User, api.world.user_a.id))
    refused(app, query(app, api.tokens["bank"], consent=consent), "file_locked", a)
    with db(app) as (s, v):
        assert lock.release_lock(s, v, s.get(Subject, a), s.get(User, api.world.user_a.id))
    assert query(app, api.tokens["bank"], consent=consent).status_code == 200


def test_a_court_queries_for_enforcement_even_while_locked_and_it_is_shown(app, api):
    a = api.world.person_a.id
    with db(app) as (s, v):
        lock.set_lock(s, v, s.get(Subject, a), s.get(User, api.world.user_a.id))
    response = query(app, api.tokens["court"], purpose="court_enforcement")
    assert response.status_code == 200
    assert response.get_json()["report"]["query"]["basis"] == "court_enforcement"
    [event] = events_of(app, a)
    detail = the_event(app, a, event.id).detail
    assert event.outcome is Outcome.SERVED
    assert event.purpose == "court_enforcement"
    assert detail["basis"] == "court_enforcement"
    assert detail["while_locked"] is True
    # ... but only for enforcement.
    refused(app, query(app, api.tokens["court"], purpose="loan_approval"), "purpose_not_allowed", a)


# -- every attempt is one event; unknown subjects ------------------------------------------------
SCENARIOS = [
    ("served", "bank", dict(consent="{consent}"), 200),
    ("no consent", "employer", dict(purpose="employment_screening"), 403),
    ("not allowed", "bank", dict(purpose="credit_card_approval"), 403),
    ("self query", "lender", dict(purpose="self_query"), 403),
    ("not a contract", "lender", dict(purpose="post_loan_management"), 403),
    ("court", "court", dict(purpose="court_enforcement"), 200),
]


@pytest.mark.parametrize(("why", "token", "params", "status"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_every_attempt_is_exactly_one_event_the_subject_sees(app, api, why, token, params, status):
    a = api.world.person_a.id
    consent = grant(app, a, api.world.bank.id)
    params = {k: v.format(consent=consent) for k, v in params.items()}
    before = count(app, AccessEvent, AccessEvent.subject_id == a)
    others = count(app, AccessEvent, AccessEvent.subject_id != a)
    assert query(app, api.tokens[token], **params).status_code == status
    assert count(app, AccessEvent, AccessEvent.subject_id == a) == before + 1
    assert count(app, AccessEvent, AccessEvent.subject_id != a) == others
    with db(app) as (s, v):
        [latest] = recent_events(s, v, s.get(Subject, a), limit=1)
    assert latest.kind is EventKind.INSTITUTION_QUERY
    assert latest.outcome is (Outcome.SERVED if status == 200 else Outcome.REFUSED)


def test_an_identifier_not_on_file_is_404_and_records_nothing(app, api):
    before = counts(app)
    response = query(app, api.tokens["bank"], NOT_ON_FILE)
    assert is_problem(response, 404)["type"].endswith("unknown-subject")
    assert counts(app) == before


def test_an_invalid_identifier_is_400_naming_it(app, api):
    before = counts(app)
    problem = is_problem(query(app, api.tokens["bank"], "123"), 400)
    assert problem["errors"][0]["parameter"] == "identifier"
    assert "18 characters" in problem["errors"][0]["detail"]
    assert counts(app) == before
