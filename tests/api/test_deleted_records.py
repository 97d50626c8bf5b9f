"""What dispute decisions change in what institutions receive: records
deleted or whose publicity ended are never disclosed, unverifiable ones
are marked, the subject's statements go with their records; and a deleted
record is furnished again only with a certification of its accuracy, which
the subject is told of."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.events import recent_events
from portal.audit.models import EventKind
from portal.db import new_id, utcnow
from portal.disputes.models import DisputeReason, RecordStatement
from portal.disputes.services import file_dispute
from portal.notifications.models import Message
from portal.records.models import CreditRecord, RecordVersion, Subject
from portal.records.services import REFERENCE_INDEX

from .conftest import bearer, count, counts, db, furnish_body, grant, is_problem
from .test_openapi import conforms

A = "11010519491231002X"


def record_id(s, v, reference: str) -> uuid.UUID:
    return s.scalar(
        select(CreditRecord.id).where(CreditRecord.reference_bidx == v.blind_index(REFERENCE_INDEX, reference))
    )


def mark(app, reference, **columns):
    with db(app) as (s, v):
        record = s.get(CreditRecord, record_id(s, v, reference))
        for name, value in columns.items():
            setattr(record, name, value)
        return record.id


def report(app, api, token="bank"):
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    response = app.test_client().get(
        f"/api/v1/reports/{A}?purpose=loan_approval&consent={consent}", headers=bearer(api.tokens[token])
    )
    assert response.status_code == 200
    return {r["reference"]: r for r in response.get_json()["report"]["records"]}


def post(app, token, body):
    return app.test_client().post("/api/v1/records", json=body, headers=bearer(token))


def messages_of(app, user_id):
    return count(app, Message, Message.user_id == user_id)


# -- the report ---------------------------------------------------------------------------
def test_deleted_and_ended_records_are_never_disclosed_and_unverifiable_ones_are_marked(app, api):
    assert post(app, api.tokens["bank"], furnish_body(reference="A-PENALTY-1")).status_code == 201
    assert set(report(app, api)) == {"A-LOAN-1", "A-CARD-1", "A-PENALTY-1"}
    mark(app, "A-LOAN-1", deleted_at=utcnow())
    mark(app, "A-PENALTY-1", publicity_ended_at=utcnow())
    mark(app, "A-CARD-1", unverifiable_since=utcnow())
    records = report(app, api)
    assert set(records) == {"A-CARD-1"}
    assert records["A-CARD-1"]["unverifiable"] is True


def test_records_are_not_unverifiable_by_default_and_carry_the_subjects_statements(app, api):
    with db(app) as (s, v):
        a = s.get(Subject, api.world.person_a.id)
        loan = record_id(s, v, "A-LOAN-1")
        dispute = file_dispute(
            s, v, a, s.get(User, api.world.user_a.id), [loan], DisputeReason.WRONG_AMOUNT, "The balance is wrong."
        )
        row = RecordStatement(id=new_id(), record_id=loan, dispute_id=dispute.id, created_at=utcnow())
        v.cipher(s, a.data_key_id).seal_field(row, "text", "I repaid this loan early; the bank agrees.")
        s.add(row)
    records = report(app, api)
    assert records["A-LOAN-1"]["statements"] == ["I repaid this loan early; the bank agrees."]
    assert records["A-CARD-1"]["statements"] == []
    assert records["A-LOAN-1"]["unverifiable"] is records["A-CARD-1"]["unverifiable"] is False


# -- furnishing a deleted record again ------------------------------------------------------
def deleted_loan_body(**extra):
    body = furnish_body(
        reference="A-LOAN-1",
        status="active",
        negative=False,
        details={"currency": "CNY", "principal": "50000.00", "balance": "1200.00"},
    )
    body.update(extra)
    return body


def test_a_deleted_record_is_refused_without_a_certification(app, api):
    loan = mark(app, "A-LOAN-1", deleted_at=utcnow())
    before, told = counts(app), messages_of(app, api.world.user_a.id)
    for body in (deleted_loan_body(), deleted_loan_body(certify_accurate=False)):
        problem = is_problem(post(app, api.tokens["bank"], body), 409)
        assert problem["type"].endswith("record-deleted")
        assert problem["record_id"] == str(loan)
        assert problem["errors"][0]["pointer"] == "/certify_accurate"
    assert counts(app) == before
    assert messages_of(app, api.world.user_a.id) == told
    with db(app) as (s, _v):
        assert s.get(CreditRecord, loan).deleted_at is not None


def test_certify_accurate_must_be_a_boolean(app, api):
    mark(app, "A-LOAN-1", deleted_at=utcnow())
    before = counts(app)
    problem = is_problem(post(app, api.tokens["bank"], deleted_loan_body(certify_accurate="yes")), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/certify_accurate"]
    assert counts(app) == before


def test_a_certified_record_comes_back_and_the_subject_is_told(app, api):
    loan = mark(app, "A-LOAN-1", deleted_at=utcnow())
    told = messages_of(app, api.world.user_a.id)
    response = post(app, api.tokens["bank"], deleted_loan_body(certify_accurate=True))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["record_id"] == str(loan)
    assert response.get_json()["version"] == 2
    with db(app) as (s, v):
        assert s.get(CreditRecord, loan).deleted_at is None
        assert count(app, RecordVersion, RecordVersion.record_id == loan) == 2
        a = s.get(Subject, api.world.person_a.id)
        [event] = [e for e in recent_events(s, v, a, limit=5) if e.kind is EventKind.RECORD_FURNISHED]
        assert event.detail["recertified"] is True
        assert event.detail["record"] == str(loan)
        assert event.institution_id == api.world.bank.id
        assert event.channel == "api"
        user = s.get(User, api.world.user_a.id)
        [message] = s.scalars(
            select(Message).where(Message.user_id == user.id).order_by(Message.created_at.desc()).limit(1)
        )
        cipher = v.cipher(s, user.data_key_id)
        # In the holder's language (Chinese unless chosen otherwise): the bank by its name in it.
        assert "测试银行" in cipher.open_field(message, "title")
        assert cipher.open_field(message, "email") == "a@test.example"
    assert messages_of(app, api.world.user_a.id) == told + 1
    records = report(app, api)
    assert records["A-LOAN-1"]["version"] == 2
    assert records["A-LOAN-1"]["details"]["balance"] == "1200.00"


def test_a_certification_on_an_ordinary_record_changes_nothing_else(app, api):
    told = messages_of(app, api.world.user_a.id)
    response = post(app, api.tokens["bank"], {**furnish_body(), "certify_accurate": True})
    assert response.status_code == 201
    with db(app) as (s, v):
        [event] = [
            e
            for e in recent_events(s, v, s.get(Subject, api.world.person_a.id), limit=5)
            if e.kind is EventKind.RECORD_FURNISHED
        ]
        assert "recertified" not in event.detail
    assert messages_of(app, api.world.user_a.id) == told


def test_another_furnishers_reference_is_not_a_deleted_record(app, api):
    """The lender's own A-LOAN-1 is a new record of the lender's."""
    mark(app, "A-LOAN-1", deleted_at=utcnow())
    response = post(app, api.tokens["lender"], deleted_loan_body())
    assert response.status_code == 201
    assert response.get_json()["version"] == 1


def test_the_document_describes_the_certification_and_the_marks(app, api):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert conforms(document, "FurnishRequest", deleted_loan_body(certify_accurate=True))
    assert not conforms(document, "FurnishRequest", deleted_loan_body(certify_accurate="yes"))
    mark(app, "A-CARD-1", unverifiable_since=utcnow())
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    served = app.test_client().get(
        f"/api/v1/reports/{A}?purpose=loan_approval&consent={consent}", headers=bearer(api.tokens["bank"])
    )
    assert conforms(document, "ReportSent", served.get_json())
    mark(app, "A-LOAN-1", deleted_at=utcnow())
    refused = post(app, api.tokens["bank"], deleted_loan_body())
    assert refused.status_code == 409
    assert conforms(document, "Problem", refused.get_json())
