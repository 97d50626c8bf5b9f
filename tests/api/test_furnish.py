"""Furnishing through POST /api/v1/records: a new record, a new version
(history grows, only the newest is disclosed), a subject created on first
furnishing, conflicts refused before anything is written."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from portal.audit.events import recent_events
from portal.audit.models import AccessEvent, EventKind
from portal.records.models import CreditRecord, RecordVersion, Subject, SubjectKind
from portal.records.services import expiry_date, find_subject, open_payload, view_subject

from .conftest import bearer, count, counts, db, furnish_body, grant, is_problem

NEW_PERSON = "110105198502030015"


def post(app, token, body):
    return app.test_client().post("/api/v1/records", json=body, headers=bearer(token))


def test_a_new_record_about_a_subject_on_file(app, api):
    a = api.world.person_a.id
    records, events = count(app, CreditRecord, CreditRecord.subject_id == a), count(app, AccessEvent)
    response = post(app, api.tokens["bank"], furnish_body())
    assert response.status_code == 201
    body = response.get_json()
    assert body["version"] == 1
    assert body["expires_on"] is None
    assert count(app, CreditRecord, CreditRecord.subject_id == a) == records + 1
    assert count(app, AccessEvent) == events + 1
    with db(app) as (s, v):
        record = s.get(CreditRecord, uuid.UUID(body["record_id"]))
        assert record.subject_id == a
        assert record.furnisher_id == api.world.bank.id
        payload = open_payload(v.cipher(s, s.get(Subject, a).data_key_id), record.versions[0])
        assert payload == {
            "reference": "API-LOAN-1",
            "currency": "CNY",
            "principal": "120000.00",
            "balance": "80000.00",
            "opened_on": "2024-05-01",
        }
        [event] = [e for e in recent_events(s, v, s.get(Subject, a)) if e.kind is EventKind.RECORD_FURNISHED]
        assert event.channel == "api"
        assert event.institution_id == api.world.bank.id
        assert event.detail["record"] == body["record_id"]
        assert event.detail["version"] == 1


def test_the_same_reference_makes_a_new_version_and_only_it_is_disclosed(app, api):
    token = api.tokens["bank"]
    first = post(
        app, token, furnish_body(status="overdue", negative=True, details={"balance": "111.11", "overdue_months": 3})
    )
    second = post(
        app,
        token,
        furnish_body(
            reference=" api-loan-1 ",
            status="settled",
            negative=True,
            ended_on="2024-06-30",
            details={"balance": "0.00"},
        ),
    )
    assert first.status_code == second.status_code == 201
    assert second.get_json()["record_id"] == first.get_json()["record_id"]
    assert second.get_json()["version"] == 2
    assert second.get_json()["expires_on"] == expiry_date(True, date(2024, 6, 30)).isoformat() == "2029-06-30"
    record_id = uuid.UUID(first.get_json()["record_id"])
    assert count(app, RecordVersion, RecordVersion.record_id == record_id) == 2  # the history grows

    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    report = app.test_client().get(
        f"/api/v1/reports/11010519491231002X?purpose=loan_approval&consent={consent}", headers=bearer(token)
    )
    assert report.status_code == 200
    [record] = [r for r in report.get_json()["report"]["records"] if r["id"] == str(record_id)]
    assert record["version"] == 2
    assert record["status"] == "settled"
    assert record["details"] == {"balance": "0.00"}
    assert b"111.11" not in report.get_data()  # the old version is never disclosed again


def test_a_subject_not_on_file_arrives_with_its_first_record(app, api):
    before = counts(app)
    body = furnish_body(NEW_PERSON, name=" 王小明 ")
    body["subject"]["contact_email"] = "wang@mail.example"
    response = post(app, api.tokens["bank"], body)
    assert response.status_code == 201
    after = counts(app)
    assert after["subjects"] == before["subjects"] + 1
    assert after["credit_records"] == before["credit_records"] + 1
    with db(app) as (s, v):
        subject = find_subject(s, v, SubjectKind.PERSON, NEW_PERSON)
        assert view_subject(s, v, subject).name == "王小明"
        assert v.cipher(s, subject.data_key_id).open_field(subject, "contact_email") == "wang@mail.example"
        [event] = recent_events(s, v, subject)
        assert event.kind is EventKind.RECORD_FURNISHED
        assert event.detail["subject_created"] is True


def test_firms_are_furnished_by_credit_code(app, api):
    response = post(
        app,
        api.tokens["bank"],
        furnish_body(
            "91350100M000100Y43",
            "firm",
            "福州示例科技有限公司",
            category="tax_arrears",
            reference="T-1",
            status="overdue",
            negative=True,
            details={"amount": "900.00"},
        ),
    )
    assert response.status_code == 201
    with db(app) as (s, _v):
        record = s.scalar(select(CreditRecord).where(CreditRecord.id == uuid.UUID(response.get_json()["record_id"])))
        assert record.subject_id == api.world.firm_f.id


def test_a_reference_used_for_another_subject_or_category_is_a_conflict_and_writes_nothing(app, api):
    token = api.tokens["bank"]
    assert post(app, token, furnish_body()).status_code == 201
    before = counts(app)
    cases = [
        furnish_body("110105198001010016", name="李四"),  # person B
        furnish_body(NEW_PERSON, name="新人"),  # a subject not on file: not created either
        furnish_body(category="credit_card"),
    ]  # same subject, another category
    for body in cases:
        problem = is_problem(post(app, token, body), 409)
        assert problem["errors"][0]["pointer"] == "/record/reference"
    assert counts(app) == before


def test_references_are_per_furnisher(app, api):
    assert post(app, api.tokens["bank"], furnish_body()).status_code == 201
    other = post(app, api.tokens["lender"], furnish_body("110105198001010016", name="李四"))
    assert other.status_code == 201
    assert other.get_json()["version"] == 1
