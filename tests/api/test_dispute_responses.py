"""The furnisher's side of disputes: GET /api/v1/disputes lists the disputes
of the institution's own records (and in each only its own items), the
evidence is fetched as an attachment and recorded for the subject, and POST
/api/v1/disputes/{id}/responses takes one answer per record, a correction
being the record's next version. Refusals write nothing."""

from __future__ import annotations

import copy
import hashlib
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.accounts.services import create_user
from portal.audit.events import recent_events
from portal.audit.models import AccessEvent, EventKind
from portal.disputes import decisions, sharing
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import advance
from portal.disputes.models import (
    Answer,
    Dispute,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    FurnisherResponse,
    StepKind,
)
from portal.disputes.services import file_dispute
from portal.localtime import today as portal_today
from portal.records.models import CreditRecord, RecordVersion, Subject
from portal.records.services import REFERENCE_INDEX, open_payload
from tests.files import PDF, PNG, pdf_with_open_action_javascript

from .conftest import TABLES, bearer, db, furnish_body, grant, is_problem
from .test_openapi import conforms

S = DisputeStatus
REVIEWED = "Repayment ledger of loan A-LOAN-1, 2023-01 to 2024-06, and the settlement letter."


def record_id(s, v, reference: str) -> uuid.UUID:
    return s.scalar(
        select(CreditRecord.id).where(CreditRecord.reference_bidx == v.blind_index(REFERENCE_INDEX, reference))
    )


@pytest.fixture
def case(app, api):
    """Person A disputes two records at once, the bank's loan and one the
    lender furnished (with two files), and separately the bank's card."""
    lender_rec = app.test_client().post(
        "/api/v1/records", json=furnish_body(reference="L-A-1"), headers=bearer(api.tokens["lender"])
    )
    assert lender_rec.status_code == 201
    with db(app) as (s, v):
        a, user = s.get(Subject, api.world.person_a.id), s.get(User, api.world.user_a.id)
        loan, card, theirs, loan_b = (record_id(s, v, r) for r in ("A-LOAN-1", "A-CARD-1", "L-A-1", "B-LOAN-1"))
        both = file_dispute(
            s,
            v,
            a,
            user,
            [loan, theirs],
            DisputeReason.WRONG_AMOUNT,
            "The balance is wrong: I repaid both loans in 2024.",
            files=[Upload("receipt.pdf", PDF), Upload("scan.png", PNG)],
        )
        only_card = file_dispute(s, v, a, user, [card], DisputeReason.OUTDATED, "This card was closed long ago.")
        officer = create_user(s, v, role=Role.OFFICER, email="officer@test.example", display_name="officer")
        evidence = {e.media_type: e.id for e in both.evidence}
        ids = SimpleNamespace(
            both=both.id,
            card_case=only_card.id,
            loan=loan,
            card=card,
            theirs=theirs,
            loan_b=loan_b,
            officer=officer.id,
            pdf=evidence["application/pdf"],
            png=evidence["image/png"],
        )
    return SimpleNamespace(api=api, ids=ids, tokens=api.tokens, world=api.world)


def get(app, token, path):
    return app.test_client().get(path, headers=bearer(token))


def listing(app, token, query=""):
    response = get(app, token, f"/api/v1/disputes{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def answer(app, token, dispute_id, body):
    return app.test_client().post(f"/api/v1/disputes/{dispute_id}/responses", json=body, headers=bearer(token))


def walk(app, dispute_id, officer_id, *steps):
    with db(app) as (s, v):
        dispute, officer = s.get(Dispute, dispute_id), s.get(User, officer_id)
        for to in steps:
            advance(s, v, dispute, to, officer, "asked the furnishers" if to is S.WAITING_FOR_FURNISHER else None)


def send_file(app, dispute_id, evidence_id, officer_id, *institution_ids):
    """The officer sends a file of a case spanning several furnishers to some of them."""
    with db(app) as (s, _v):
        sharing.share(s, s.get(Dispute, dispute_id), s.get(User, officer_id), evidence_id, institution_ids)


def snapshot(app, dispute_id) -> dict:
    """Everything an answer could write."""
    with db(app) as (s, _v):
        out = {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (*TABLES, FurnisherResponse, DisputeStep)
        }
        dispute = s.get(Dispute, dispute_id)
        out["dispute"] = (dispute.status, dispute.lock_version)
        return out


def correction(**changes) -> dict:
    return {
        "category": "loan",
        "reference": "A-LOAN-1",
        "status": "settled",
        "negative": False,
        "ended_on": "2024-06-30",
        "details": {"currency": "CNY", "principal": "50000.00", "balance": "0.00"},
        **changes,
    }


# -- the listing ----------------------------------------------------------------------------------
def test_each_furnisher_sees_only_its_own_disputes_and_items(app, case):
    ids = case.ids
    # Until an officer sends the case, the furnisher knows of it, not what the subject said or sent.
    [before] = [d for d in listing(app, case.tokens["bank"])["disputes"] if d["id"] == str(ids.both)]
    assert (before["forwarded"], before["statement"], before["evidence"]) == (False, None, [])
    walk(app, ids.both, ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    bank = listing(app, case.tokens["bank"])
    assert bank["total"] == 2
    assert bank["next_offset"] is None
    assert {d["id"] for d in bank["disputes"]} == {str(ids.both), str(ids.card_case)}
    [both] = [d for d in bank["disputes"] if d["id"] == str(ids.both)]
    assert both["reason"] == "wrong_amount"
    assert both["status"] == "waiting_for_furnisher"
    assert both["forwarded"]
    assert both["statement"] == "The balance is wrong: I repaid both loans in 2024."
    with app.app_context():  # days counted in the portal's time zone
        from portal.localtime import today

        assert both["days_left"] == (date.fromisoformat(both["due_on"]) - today()).days
    # Only the bank's record of the two.
    assert both["items"] == [
        {
            "record_id": str(ids.loan),
            "reference": "A-LOAN-1",
            "version": 1,
            "answered": False,
            "answer": None,
            "decision": None,
        }
    ]
    # The case spans two furnishers: each gets only the files the officer sends it.
    assert both["evidence"] == []
    send_file(app, ids.both, ids.pdf, ids.officer, case.api.ids.bank)
    [both] = [d for d in listing(app, case.tokens["bank"])["disputes"] if d["id"] == str(ids.both)]
    assert both["evidence"] == [
        {
            "id": str(ids.pdf),
            "href": f"/api/v1/disputes/{ids.both}/evidence/{ids.pdf}",
            "name": "receipt.pdf",  # as the subject uploaded it
            "media_type": "application/pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
            "removed": [],
        }
    ]

    # The lender sees the shared dispute, with its own record only, and not the card's, nor the bank's file.
    lender = listing(app, case.tokens["lender"])
    assert [d["id"] for d in lender["disputes"]] == [str(ids.both)]
    assert lender["total"] == 1
    assert [i["reference"] for i in lender["disputes"][0]["items"]] == ["L-A-1"]
    assert "A-LOAN-1" not in str(lender)
    assert str(ids.card_case) not in str(lender)
    assert lender["disputes"][0]["evidence"] == []
    send_file(app, ids.both, ids.png, ids.officer, case.api.ids.lender)
    [files] = [d["evidence"] for d in listing(app, case.tokens["lender"])["disputes"]]
    assert [(f["id"], f["sha256"]) for f in files] == [(str(ids.png), hashlib.sha256(PNG).hexdigest())]


def test_listing_needs_the_furnish_scope(app, case):
    for token in ("bank_query", "court"):
        assert is_problem(get(app, case.tokens[token], "/api/v1/disputes"), 403)["type"].endswith("insufficient-scope")
    assert listing(app, case.tokens["bank_furnish"])["total"] == 2


def test_the_status_filter(app, case):
    with db(app) as (s, v):
        advance(s, v, s.get(Dispute, case.ids.card_case), S.WITHDRAWN, s.get(User, case.world.user_a.id))
    token = case.tokens["bank"]
    assert [d["id"] for d in listing(app, token)["disputes"]] == [str(case.ids.both)]  # open by default
    assert [d["id"] for d in listing(app, token, "?status=open")["disputes"]] == [str(case.ids.both)]
    [closed] = listing(app, token, "?status=closed")["disputes"]
    assert closed["id"] == str(case.ids.card_case)
    assert closed["status"] == "withdrawn"
    assert closed["days_left"] is None
    assert closed["items"][0]["decision"] is None
    assert listing(app, token, "?status=all")["total"] == 2


def test_pages(app, case):
    token = case.tokens["bank"]
    first = listing(app, token, "?limit=1")
    assert len(first["disputes"]) == 1
    assert first["total"] == 2
    assert first["limit"] == 1
    assert first["offset"] == 0
    assert first["next_offset"] == 1
    second = listing(app, token, "?limit=1&offset=1")
    assert len(second["disputes"]) == 1
    assert second["next_offset"] is None
    assert first["disputes"][0]["id"] != second["disputes"][0]["id"]
    assert listing(app, token, "?offset=5")["disputes"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=pending", "status"),
        ("status=", "status"),
        ("status=open&status=all", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=01", "limit"),
        ("offset=-1", "offset"),
        ("debug=1", "debug"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(app, case, query, parameter):
    before = snapshot(app, case.ids.both)
    problem = is_problem(get(app, case.tokens["bank"], f"/api/v1/disputes?{query}"), 400)
    assert parameter in [e["parameter"] for e in problem["errors"]]
    assert snapshot(app, case.ids.both) == before


# -- evidence -----------------------------------------------------------------------------------
def test_evidence_is_an_attachment_and_an_event_the_subject_sees(app, case):
    ids = case.ids
    early = get(app, case.tokens["bank"], f"/api/v1/disputes/{ids.both}/evidence/{ids.pdf}")
    assert is_problem(early, 404), "not before an officer sends the case"
    send_file(app, ids.both, ids.pdf, ids.officer, case.api.ids.bank)
    assert is_problem(get(app, case.tokens["bank"], f"/api/v1/disputes/{ids.both}/evidence/{ids.pdf}"), 404), (
        "chosen for the bank, but not before the case is sent"
    )
    walk(app, ids.both, ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    response = get(app, case.tokens["bank"], f"/api/v1/disputes/{ids.both}/evidence/{ids.pdf}")
    assert response.status_code == 200
    assert response.get_data() == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="receipt.pdf"'  # the name it was sent with
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    with db(app) as (s, v):
        [event] = recent_events(s, v, s.get(Subject, case.world.person_a.id), limit=1)
    assert event.kind is EventKind.EVIDENCE_SENT
    assert event.channel == "api"
    assert event.institution_id == case.world.bank.id
    assert event.detail["dispute_id"] == str(ids.both)
    assert event.detail["evidence_id"] == str(ids.pdf)
    assert event.detail["sha256"] == hashlib.sha256(PDF).hexdigest()
    # The lender furnished a record of this dispute too, but gets only the file sent to it.
    assert is_problem(get(app, case.tokens["lender"], f"/api/v1/disputes/{ids.both}/evidence/{ids.pdf}"), 404)
    assert is_problem(get(app, case.tokens["lender"], f"/api/v1/disputes/{ids.both}/evidence/{ids.png}"), 404)
    send_file(app, ids.both, ids.png, ids.officer, case.api.ids.lender)
    png = get(app, case.tokens["lender"], f"/api/v1/disputes/{ids.both}/evidence/{ids.png}")
    assert png.status_code == 200
    assert png.mimetype == "image/png"
    assert png.get_data() == PNG
    with db(app) as (s, v):
        [event] = recent_events(s, v, s.get(Subject, case.world.person_a.id), limit=1)
    assert event.institution_id == case.api.ids.lender
    assert event.detail["evidence_id"] == str(ids.png)


def test_evidence_is_refused_alike_to_others_and_for_unknown_ids(app, case):
    ids = case.ids
    for dispute_id in (ids.both, ids.card_case):
        walk(app, dispute_id, ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    with db(app) as (s, v):
        user = s.get(User, case.world.user_a.id)
        card_case = s.get(Dispute, ids.card_case)
        from portal.disputes.services import add_evidence

        [card_file] = add_evidence(s, v, card_case, user, [Upload("card.pdf", PDF)])
        card_file = card_file.id
    before = snapshot(app, ids.both)
    lender = case.tokens["lender"]
    answers = [
        get(app, lender, f"/api/v1/disputes/{ids.card_case}/evidence/{card_file}"),  # not the lender's
        get(app, lender, f"/api/v1/disputes/{ids.both}/evidence/{card_file}"),  # of another dispute
        get(app, lender, f"/api/v1/disputes/{uuid.uuid4()}/evidence/{ids.pdf}"),
        get(app, lender, f"/api/v1/disputes/{ids.both}/evidence/{uuid.uuid4()}"),
    ]
    bodies = [is_problem(r, 404) for r in answers]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["type"].endswith("unknown-evidence")
    assert snapshot(app, ids.both) == before
    assert is_problem(get(app, case.tokens["court"], f"/api/v1/disputes/{ids.both}/evidence/{ids.pdf}"), 403)
    # The bank, whose card it is, gets it.
    assert get(app, case.tokens["bank"], f"/api/v1/disputes/{ids.card_case}/evidence/{card_file}").status_code == 200


# -- answers --------------------------------------------------------------------------------------
def test_a_verified_answer_is_kept_sealed_with_a_timeline_step(app, case):
    ids = case.ids
    response = answer(
        app,
        case.tokens["bank"],
        ids.both,
        {"record_id": str(ids.loan), "answer": "verified_accurate", "reviewed": f"  {REVIEWED} "},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["record_id"] == str(ids.loan)
    assert body["answer"] == "verified_accurate"
    assert body["corrected_version"] is None
    assert body["dispute_status"] == "submitted"
    with db(app) as (s, v):
        row = s.get(FurnisherResponse, uuid.UUID(body["id"]))
        a = s.get(Subject, case.world.person_a.id)
        assert row.institution_id == case.world.bank.id
        assert row.answer is Answer.VERIFIED_ACCURATE
        assert v.cipher(s, a.data_key_id).open_field(row, "reviewed") == REVIEWED
        assert b"ledger" not in row.reviewed_ct
        [step] = s.scalars(
            select(DisputeStep).where(
                DisputeStep.dispute_id == ids.both, DisputeStep.step == StepKind.FURNISHER_ANSWERED
            )
        ).all()
        assert step.actor_user_id is None
        event = s.get(AccessEvent, step.event_id)
        assert event.institution_id == case.world.bank.id
        assert event.channel == "api"
    [both] = [d for d in listing(app, case.tokens["bank"])["disputes"] if d["id"] == str(ids.both)]
    assert both["items"][0]["answered"] is True
    assert both["items"][0]["answer"] == "verified_accurate"
    # The lender's item stays unanswered.
    assert listing(app, case.tokens["lender"])["disputes"][0]["items"][0]["answered"] is False


BAD_ANSWERS = [
    # (why, body changes, pointer)
    ("unknown field", {"extra": 1}, "/extra"),
    ("record id a number", {"record_id": 42}, "/record_id"),
    ("record id not a uuid", {"record_id": "A-LOAN-1"}, "/record_id"),
    ("unknown answer", {"answer": "maybe"}, "/answer"),
    ("answer a boolean", {"answer": True}, "/answer"),
    ("missing reviewed", {"reviewed": None}, "/reviewed"),
    ("blank reviewed", {"reviewed": "   "}, "/reviewed"),
    ("reviewed too long", {"reviewed": "x" * 2001}, "/reviewed"),
    ("reviewed a list", {"reviewed": ["ledger"]}, "/reviewed"),
    ("a correction with a verified answer", {"correction": correction()}, "/correction"),
    ("corrected without a correction", {"answer": "corrected"}, "/correction"),
    ("a null correction", {"answer": "corrected", "correction": None}, "/correction"),
    (
        "an unknown field in the correction",
        {"answer": "corrected", "correction": correction(amount="1.00")},
        "/correction/amount",
    ),
    (
        "a bad status in the correction",
        {"answer": "corrected", "correction": correction(status="paid")},
        "/correction/status",
    ),
    (
        "a future end in the correction",
        {"answer": "corrected", "correction": correction(ended_on=(portal_today() + timedelta(days=30)).isoformat())},
        "/correction/ended_on",
    ),
    (
        "another reference",
        {"answer": "corrected", "correction": correction(reference="A-LOAN-2")},
        "/correction/reference",
    ),
    (
        "another category",
        {"answer": "corrected", "correction": correction(category="credit_card")},
        "/correction/category",
    ),
    ("another institution's record", {"record_id": "{theirs}"}, "/record_id"),
    ("a record not in the dispute", {"record_id": "{card}"}, "/record_id"),
    ("another subject's record", {"record_id": "{loan_b}"}, "/record_id"),
    ("an unknown record", {"record_id": str(uuid.uuid4())}, "/record_id"),
]


# What only the service can refuse: the rest the OpenAPI schema refuses too.
SEMANTIC = {
    "a future end in the correction",
    "another reference",
    "another category",
    "another institution's record",
    "a record not in the dispute",
    "another subject's record",
    "an unknown record",
}


def bad_body(changes: dict, ids: SimpleNamespace) -> dict:
    body = {"record_id": str(ids.loan), "answer": "verified_accurate", "reviewed": REVIEWED}
    for key, value in copy.deepcopy(changes).items():
        if value is None and key == "reviewed":
            del body[key]
        else:
            body[key] = value.format(**vars(ids)) if isinstance(value, str) else value
    return body


@pytest.mark.parametrize(("why", "changes", "pointer"), BAD_ANSWERS, ids=[b[0] for b in BAD_ANSWERS])
def test_bad_answers_are_422_naming_the_field_and_write_nothing(app, case, why, changes, pointer):
    ids = case.ids
    body = bad_body(changes, ids)
    before = snapshot(app, ids.both)
    problem = is_problem(answer(app, case.tokens["bank"], ids.both, body), 422)
    assert pointer in [e["pointer"] for e in problem["errors"]], (why, problem)
    assert snapshot(app, ids.both) == before, why


def test_a_body_that_is_not_json_writes_nothing(app, case):
    before = snapshot(app, case.ids.both)
    response = app.test_client().post(
        f"/api/v1/disputes/{case.ids.both}/responses",
        data="record_id=1",
        headers={**bearer(case.tokens["bank"]), "Content-Type": "application/x-www-form-urlencoded"},
    )
    is_problem(response, 415)
    assert snapshot(app, case.ids.both) == before


def test_one_answer_per_record(app, case):
    ids = case.ids
    first = {"record_id": str(ids.loan), "answer": "cannot_verify", "reviewed": REVIEWED}
    assert answer(app, case.tokens["bank"], ids.both, first).status_code == 201
    before = snapshot(app, ids.both)
    again = answer(app, case.tokens["bank"], ids.both, {**first, "answer": "verified_accurate"})
    assert is_problem(again, 409)["type"].endswith("already-answered")
    assert snapshot(app, ids.both) == before


def test_a_closed_dispute_takes_no_answer(app, case):
    ids = case.ids
    with db(app) as (s, v):
        advance(s, v, s.get(Dispute, ids.card_case), S.WITHDRAWN, s.get(User, case.world.user_a.id))
    before = snapshot(app, ids.card_case)
    response = answer(
        app,
        case.tokens["bank"],
        ids.card_case,
        {"record_id": str(ids.card), "answer": "verified_accurate", "reviewed": REVIEWED},
    )
    assert is_problem(response, 409)["type"].endswith("dispute-closed")
    assert snapshot(app, ids.card_case) == before


def test_unknown_and_others_disputes_are_the_same_404(app, case):
    ids = case.ids
    body = {"record_id": str(ids.card), "answer": "verified_accurate", "reviewed": REVIEWED}
    before = snapshot(app, ids.card_case)
    # The card dispute exists, but covers none of the lender's records.
    others = is_problem(answer(app, case.tokens["lender"], ids.card_case, body), 404)
    unknown = is_problem(answer(app, case.tokens["lender"], uuid.uuid4(), body), 404)
    assert others == unknown
    assert others["type"].endswith("unknown-dispute")
    assert snapshot(app, ids.card_case) == before
    assert is_problem(answer(app, case.tokens["bank_query"], ids.card_case, body), 403)
    assert is_problem(
        app.test_client().post("/api/v1/disputes/not-a-uuid/responses", json=body, headers=bearer(case.tokens["bank"])),
        404,
    )


def test_a_correction_becomes_the_next_version_when_the_officer_decides_and_only_it_is_disclosed(app, case):
    ids = case.ids
    body = {
        "record_id": str(ids.loan),
        "answer": "corrected",
        "reviewed": REVIEWED,
        "correction": correction(
            reference=" a-loan-1",
            details={"currency": "CNY", "balance": "0.00", "principal": "50000.00", "note": "repaid in full"},
        ),
    }
    response = answer(app, case.tokens["bank"], ids.both, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["corrected_version"] is None, "proposed, not applied"
    consent = grant(app, case.world.person_a.id, case.api.ids.bank)
    url = f"/api/v1/reports/11010519491231002X?purpose=loan_approval&consent={consent}"

    def the_loan():
        report = get(app, case.tokens["bank"], url).get_json()["report"]
        assert [r["reference"] for r in report["records"]].count("A-LOAN-1") == 1
        return next(r for r in report["records"] if r["id"] == str(ids.loan))

    before = the_loan()
    assert before["version"] == 1
    assert "note" not in before["details"]
    assert before["disputed"] is True
    with db(app) as (s, _v):
        assert s.get(CreditRecord, ids.loan).current_version == 1

    # The officer reviews the answers and decides "corrected": now it is the record's next version.
    walk(app, ids.both, ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW)
    with db(app) as (s, v):
        dispute, officer = s.get(Dispute, ids.both), s.get(User, ids.officer)
        dispute.assigned_officer_id = officer.id
        # The lender's record, never sent and with no correction, is the officer's own review.
        decisions.decide(
            s,
            v,
            dispute,
            officer,
            "corrected",
            "The bank's correction matches the ledger.",
            per_record={ids.theirs: "verified_accurate"},
        )
    with db(app) as (s, v):
        record = s.get(CreditRecord, ids.loan)
        assert record.current_version == 2
        assert s.scalar(select(func.count()).select_from(RecordVersion).where(RecordVersion.record_id == ids.loan)) == 2
        subject = s.get(Subject, case.world.person_a.id)
        assert open_payload(v.cipher(s, subject.data_key_id), record.versions[-1])["note"] == "repaid in full"
        furnished = [e for e in recent_events(s, v, subject, limit=20) if e.kind is EventKind.RECORD_FURNISHED]
        assert furnished
        assert furnished[0].institution_id == case.api.ids.bank
        assert furnished[0].detail["dispute_id"] == str(ids.both)
        assert furnished[0].detail["version"] == 2
    [both] = [d for d in listing(app, case.tokens["bank"], "?status=closed")["disputes"] if d["id"] == str(ids.both)]
    assert both["items"][0]["version"] == 2
    assert both["items"][0]["answer"] == "corrected"
    assert both["items"][0]["decision"] == "corrected"
    after = the_loan()
    assert after["version"] == 2
    assert after["status"] == "settled"
    assert after["details"]["note"] == "repaid in full"
    assert after["disputed"] is False


def test_the_case_goes_back_to_review_once_every_record_is_answered(app, case):
    ids = case.ids
    walk(app, ids.both, ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    first = answer(
        app,
        case.tokens["bank"],
        ids.both,
        {"record_id": str(ids.loan), "answer": "verified_accurate", "reviewed": REVIEWED},
    )
    assert first.status_code == 201
    assert first.get_json()["dispute_status"] == "waiting_for_furnisher"
    second = answer(
        app,
        case.tokens["lender"],
        ids.both,
        {"record_id": str(ids.theirs), "answer": "cannot_verify", "reviewed": "Our files of L-A-1."},
    )
    assert second.status_code == 201
    assert second.get_json()["dispute_status"] == "under_review"
    with db(app) as (s, _v):
        dispute = s.get(Dispute, ids.both)
        assert dispute.status is S.UNDER_REVIEW
        steps = [st.step for st in dispute.steps]
        assert steps[-3:] == [StepKind.FURNISHER_ANSWERED, StepKind.FURNISHER_ANSWERED, StepKind.UNDER_REVIEW]
        back = dispute.steps[-1]
        assert back.actor_user_id is None
        event = s.get(AccessEvent, back.event_id)
        assert event.institution_id == api_id(case, "lender")
        assert event.channel == "api"


def test_answers_before_the_case_waits_do_not_move_it(app, case):
    ids = case.ids
    for token, rid in (("bank", ids.loan), ("lender", ids.theirs)):
        response = answer(
            app,
            case.tokens[token],
            ids.both,
            {"record_id": str(rid), "answer": "verified_accurate", "reviewed": REVIEWED},
        )
        assert response.get_json()["dispute_status"] == "submitted"


def api_id(case, name):
    return getattr(case.api.ids, name)


# -- the OpenAPI document describes all this -------------------------------------------------------
def test_the_answer_schema_agrees_with_the_validator(client):
    document = client.get("/api/v1/openapi.json").get_json()
    ids = SimpleNamespace(loan=uuid.uuid4(), theirs=uuid.uuid4(), card=uuid.uuid4(), loan_b=uuid.uuid4())
    good = bad_body({}, ids)
    assert conforms(document, "AnswerRequest", good)
    assert conforms(document, "AnswerRequest", {**good, "answer": "corrected", "correction": correction()})
    for why, changes, _pointer in BAD_ANSWERS:
        if why not in SEMANTIC:
            assert not conforms(document, "AnswerRequest", bad_body(changes, ids)), why


def test_the_responses_match_the_document(app, case):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    ids = case.ids
    walk(app, ids.card_case, ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    answered = answer(
        app,
        case.tokens["bank"],
        ids.card_case,
        {
            "record_id": str(ids.card),
            "answer": "corrected",
            "reviewed": REVIEWED,
            "correction": correction(reference="A-CARD-1", negative=True),
        },
    )
    assert answered.status_code == 201
    assert conforms(document, "Answered", answered.get_json())
    assert conforms(document, "DisputeList", listing(app, case.tokens["bank"], "?status=all"))
    for response in (
        answer(app, case.tokens["bank"], ids.card_case, {}),
        answer(app, case.tokens["bank"], uuid.uuid4(), bad_body({}, ids)),
        get(app, case.tokens["bank"], "/api/v1/disputes?status=x"),
        get(app, case.tokens["lender"], f"/api/v1/disputes/{ids.card_case}/evidence/{ids.pdf}"),
    ):
        assert response.status_code >= 400
        assert conforms(document, "Problem", response.get_json(force=True))


def test_furnishers_are_told_what_was_taken_out_of_a_file(app, case):
    """A file the portal disarmed says what it removed, as the subject was
    told, so a furnisher does not mistake the kept file for the one sent."""
    with db(app) as (s, v):
        a, user = s.get(Subject, case.world.person_a.id), s.get(User, case.world.user_a.id)
        d = file_dispute(
            s,
            v,
            a,
            user,
            [record_id(s, v, "A-LOAN-1")],
            DisputeReason.NOT_MINE,
            "Not my loan.",
            files=[Upload("armed.pdf", pdf_with_open_action_javascript())],
        )
        dispute_id = d.id
    walk(app, dispute_id, case.ids.officer, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER)
    page = listing(app, case.tokens["bank"])
    [listed] = [x for x in page["disputes"] if x["id"] == str(dispute_id)]
    [file] = listed["evidence"]
    assert file["removed"] == ["JavaScript", "an action run on opening", "automatic actions"]
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert conforms(document, "DisputeList", page)
