"""Correction notices through the API: an institution lists its own notices
(with either key), unacknowledged first or filtered, and acknowledges each
once; acknowledging again changes nothing; others' notices are 404."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.db import new_id, utcnow
from portal.disputes import decisions
from portal.disputes.models import CorrectionNotice, Dispute, DisputeOutcome, DisputeReason, DisputeStatus
from portal.disputes.services import file_dispute
from portal.records.models import CreditRecord, Subject
from portal.records.services import REFERENCE_INDEX

from .conftest import bearer, count, counts, db, grant, is_problem
from .test_openapi import conforms


def record_id(s, v, reference: str) -> uuid.UUID:
    return s.scalar(
        select(CreditRecord.id).where(CreditRecord.reference_bidx == v.blind_index(REFERENCE_INDEX, reference))
    )


@pytest.fixture
def sent(app, api):
    """Notices as a decision would leave them: the bank has two (one about
    a record now deleted), the lender one."""
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    served = app.test_client().get(
        f"/api/v1/reports/11010519491231002X?purpose=loan_approval&consent={consent}",
        headers=bearer(api.tokens["bank"]),
    )
    assert served.status_code == 200
    query_id = uuid.UUID(served.get_json()["report"]["query"]["id"])
    with db(app) as (s, v):
        a = s.get(Subject, api.world.person_a.id)
        loan, card = record_id(s, v, "A-LOAN-1"), record_id(s, v, "A-CARD-1")
        dispute = file_dispute(
            s, v, a, s.get(User, api.world.user_a.id), [loan, card], DisputeReason.WRONG_AMOUNT, "Both are wrong."
        )
        cipher = v.cipher(s, a.data_key_id)
        now = utcnow()

        def notice(institution_id, record, outcome, body_record, age):
            row = CorrectionNotice(
                id=new_id(),
                dispute_id=dispute.id,
                institution_id=institution_id,
                record_id=record,
                received_event_id=query_id,
                created_at=now - age,
            )
            body = {
                "dispute_id": str(dispute.id),
                "record_id": str(record),
                "reference": "A-LOAN-1",
                "outcome": outcome,
                "decided_at": now.isoformat(),
                "changes": ["changed"],
                "record": body_record,
            }
            cipher.seal_field(row, "body", json.dumps(body, ensure_ascii=False))
            s.add(row)
            return row.id

        ids = SimpleNamespace(
            deleted=notice(api.world.bank.id, loan, "deleted", None, timedelta(hours=2)),
            corrected=notice(api.world.bank.id, card, "corrected", {"id": str(card), "version": 2}, timedelta(hours=1)),
            lenders=notice(api.ids.lender, loan, "deleted", None, timedelta(hours=3)),
        )
        s.flush()
    return SimpleNamespace(api=api, tokens=api.tokens, ids=ids, dispute=dispute.id)


def get(app, token, query=""):
    return app.test_client().get(f"/api/v1/notices{query}", headers=bearer(token))


def listed(app, token, query=""):
    response = get(app, token, query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def ack(app, token, notice_id):
    return app.test_client().post(f"/api/v1/notices/{notice_id}/ack", headers=bearer(token))


def test_an_institution_lists_its_own_notices_with_either_key(app, sent):
    for token in ("bank", "bank_query", "bank_furnish"):
        page = listed(app, sent.tokens[token])
        assert [n["id"] for n in page["notices"]] == [str(sent.ids.deleted), str(sent.ids.corrected)]
        assert page["total"] == 2
        assert page["next_offset"] is None
    deleted = listed(app, sent.tokens["bank"])["notices"][0]
    assert deleted["dispute_id"] == str(sent.dispute)
    assert deleted["acknowledged_at"] is None
    assert deleted["body"]["outcome"] == "deleted"
    assert deleted["body"]["record"] is None
    assert [n["id"] for n in listed(app, sent.tokens["lender"])["notices"]] == [str(sent.ids.lenders)]
    assert listed(app, sent.tokens["court"]) == {
        "notices": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }


def test_acknowledging_once_and_again(app, sent):
    first = ack(app, sent.tokens["bank_query"], sent.ids.deleted)
    assert first.status_code == 200
    at = first.get_json()["acknowledged_at"]
    assert first.get_json() == {"id": str(sent.ids.deleted), "acknowledged_at": at}
    again = ack(app, sent.tokens["bank_furnish"], sent.ids.deleted)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()

    token = sent.tokens["bank"]
    assert [n["id"] for n in listed(app, token)["notices"]] == [str(sent.ids.corrected)]
    [done] = listed(app, token, "?acknowledged=true")["notices"]
    assert done["id"] == str(sent.ids.deleted)
    assert done["acknowledged_at"] == at
    # All: those still to acknowledge first.
    assert [n["id"] for n in listed(app, token, "?acknowledged=all")["notices"]] == [
        str(sent.ids.corrected),
        str(sent.ids.deleted),
    ]
    assert [n["id"] for n in listed(app, token, "?acknowledged=false")["notices"]] == [str(sent.ids.corrected)]


def test_others_notices_and_unknown_ones_are_the_same_404(app, sent):
    before = counts(app)
    theirs = is_problem(ack(app, sent.tokens["lender"], sent.ids.deleted), 404)
    unknown = is_problem(ack(app, sent.tokens["lender"], uuid.uuid4()), 404)
    assert theirs == unknown
    assert theirs["type"].endswith("unknown-notice")
    assert counts(app) == before
    assert count(app, CorrectionNotice, CorrectionNotice.acknowledged_at.is_not(None)) == 0
    is_problem(app.test_client().post("/api/v1/notices/nope/ack", headers=bearer(sent.tokens["bank"])), 404)


def test_notices_need_a_key(app, sent):
    assert is_problem(app.test_client().get("/api/v1/notices"), 401)
    assert is_problem(app.test_client().post(f"/api/v1/notices/{sent.ids.deleted}/ack"), 401)


def test_pages_of_notices(app, sent):
    token = sent.tokens["bank"]
    first = listed(app, token, "?acknowledged=all&limit=1")
    assert [n["id"] for n in first["notices"]] == [str(sent.ids.deleted)]
    assert first["next_offset"] == 1
    second = listed(app, token, "?acknowledged=all&limit=1&offset=1")
    assert [n["id"] for n in second["notices"]] == [str(sent.ids.corrected)]
    assert second["next_offset"] is None


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?acknowledged=yes", "acknowledged"),
        ("?acknowledged=False", "acknowledged"),
        ("?limit=0", "limit"),
        ("?offset=x", "offset"),
        ("?status=open", "status"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(app, sent, query, parameter):
    problem = is_problem(get(app, sent.tokens["bank"], query), 400)
    assert parameter in [e["parameter"] for e in problem["errors"]]


def test_a_decision_sends_a_notice_the_recipient_reads_and_acknowledges(app, api):
    """From a real decision: the bank received A's report, the loan is then
    deleted by a decision, and the bank reads the notice."""
    consent = grant(app, api.world.person_a.id, api.world.bank.id)
    assert (
        app.test_client()
        .get(
            f"/api/v1/reports/11010519491231002X?purpose=loan_approval&consent={consent}",
            headers=bearer(api.tokens["bank"]),
        )
        .status_code
        == 200
    )
    from portal.accounts.models import Role
    from portal.accounts.services import create_user
    from portal.disputes.lifecycle import advance

    with db(app) as (s, v):
        a = s.get(Subject, api.world.person_a.id)
        loan = record_id(s, v, "A-LOAN-1")
        dispute = file_dispute(
            s, v, a, s.get(User, api.world.user_a.id), [loan], DisputeReason.NOT_MINE, "Not my loan."
        )
        officer = create_user(s, v, role=Role.OFFICER, email="officer@test.example", display_name="officer")
        for to in (DisputeStatus.ACKNOWLEDGED, DisputeStatus.UNDER_REVIEW):
            advance(s, v, dispute, to, officer)
        dispute.assigned_officer_id = officer.id
        s.flush()
        decisions.decide(s, v, s.get(Dispute, dispute.id), officer, DisputeOutcome.DELETED, "Identity theft shown.")
        dispute_id = dispute.id
    [notice] = listed(app, api.tokens["bank_query"])["notices"]
    assert notice["dispute_id"] == str(dispute_id)
    assert notice["record_id"] == str(loan)
    assert notice["body"]["outcome"] == "deleted"
    assert notice["body"]["record"] is None
    assert listed(app, api.tokens["lender"])["total"] == 0
    assert ack(app, api.tokens["bank_query"], notice["id"]).status_code == 200
    assert listed(app, api.tokens["bank_query"])["total"] == 0


def test_the_responses_match_the_document(app, sent):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert conforms(document, "NoticeList", listed(app, sent.tokens["bank"], "?acknowledged=all"))
    acked = ack(app, sent.tokens["bank"], sent.ids.corrected)
    assert conforms(document, "Acknowledged", acked.get_json())
    assert conforms(document, "NoticeList", listed(app, sent.tokens["bank"], "?acknowledged=true"))
    assert conforms(document, "Problem", ack(app, sent.tokens["lender"], sent.ids.corrected).get_json())


def test_a_notice_downloads_as_a_signed_document_anyone_can_check(app, sent, pdf_text):
    from portal.audit.documents import document_signer
    from portal.audit.models import AccessEvent, EventKind, IssuedDocument

    before = counts(app)
    response = app.test_client().get(
        f"/api/v1/notices/{sent.ids.corrected}/document", headers=bearer(sent.tokens["bank"])
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    with app.app_context():
        assert document_signer().check(response.data).intact
    text = pdf_text(response.data)
    assert "A-LOAN-1" in text
    (number,) = set(re.findall(r"CSP-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", text))
    with db(app) as (s, _v):
        doc = s.get(IssuedDocument, number)
        assert doc.kind == "correction notice"
        event = s.get(AccessEvent, doc.event_id)
        assert (event.kind, event.channel, event.institution_id) == (EventKind.EXPORT, "api", sent.api.world.bank.id)
    assert counts(app) != before
    page = app.test_client().get(f"/verify?number={number}").get_data(as_text=True)
    assert "由本平台出具" in page
    # Another institution's notice, or none: the same 404, nothing issued.
    before = count(app, IssuedDocument)
    theirs = is_problem(
        app.test_client().get(f"/api/v1/notices/{sent.ids.deleted}/document", headers=bearer(sent.tokens["lender"])),
        404,
    )
    unknown = is_problem(
        app.test_client().get(f"/api/v1/notices/{uuid.uuid4()}/document", headers=bearer(sent.tokens["lender"])), 404
    )
    assert theirs == unknown
    assert count(app, IssuedDocument) == before


def test_a_shredded_subjects_notice_is_not_found(app, sent):
    from portal.accounts.services import shred_subject

    with db(app) as (s, v):
        shred_subject(s, v, s.get(Subject, sent.api.world.person_a.id))
    for path in (f"/api/v1/notices/{sent.ids.corrected}/document", f"/api/v1/notices/{sent.ids.corrected}/ack"):
        client = app.test_client()
        method = client.get if path.endswith("document") else client.post
        is_problem(method(path, headers=bearer(sent.tokens["bank"])), 404)


def test_the_printed_link_never_comes_from_the_request(app, sent, pdf_text):
    """A forged Host header must not make a signed document send its readers
    to another site: the link is built on the portal's public address."""
    response = app.test_client().get(
        f"/api/v1/notices/{sent.ids.corrected}/document",
        headers={**bearer(sent.tokens["bank"]), "Host": "evil.example"},
    )
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert "evil.example" not in text
    assert "127.0.0.1:5000/verify?number=CSP-" in text.replace("\n", "")
