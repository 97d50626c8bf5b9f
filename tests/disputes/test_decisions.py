"""Decisions and what follows them: the records change as decided, the
outcome letter, correction notices to recipients in the look-back window,
statements, and cases whose furnisher let the deadline pass."""

import json
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.audit import disclosures
from portal.audit.events import open_detail, record_event
from portal.audit.models import AccessEvent, EventKind
from portal.db import new_id, utcnow
from portal.disputes import decisions
from portal.disputes.lifecycle import DisputeError, StaleDispute, advance
from portal.disputes.models import (
    Answer,
    CorrectionNotice,
    Dispute,
    DisputeItem,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    FurnisherResponse,
    OutcomeLetter,
    RecordStatement,
)
from portal.disputes.services import file_dispute
from portal.institutions.models import Institution, InstitutionKind
from portal.institutions.services import NewInstitution, create_institution
from portal.notifications.models import Message
from portal.records.models import CreditRecord, Subject
from portal.records.services import RecordInput, furnish, open_payload

from .conftest import count

S = DisputeStatus


@pytest.fixture
def bank(db, cast):
    return db.get(Institution, cast.loan_a.furnisher_id)


@pytest.fixture
def others(db, the_vault):
    def make(code, kind, purposes):
        return create_institution(
            db, the_vault, NewInstitution(code, code, code.title(), kind, purposes, "联系人", f"{code}@inst.example")
        )

    out = (
        make("recent-lender", InstitutionKind.LENDER, ["loan_approval"]),
        make("old-lender", InstitutionKind.LENDER, ["loan_approval"]),
        make("employer", InstitutionKind.EMPLOYER, ["employment_screening"]),
    )
    db.commit()
    return out


def received(db, v, subject, institution, record_ids, purpose, days_ago):
    """A report as an institution received it `days_ago`: the event and the
    bytes kept."""
    event = record_event(
        db, v, subject, EventKind.INSTITUTION_QUERY, channel="api", institution_id=institution.id, purpose=purpose
    )
    body = json.dumps({"records": [{"id": str(r)} for r in record_ids]}).encode()
    row = disclosures.store(db, v, subject, event, body)
    row.created_at = event.occurred_at = utcnow() - timedelta(days=days_ago)
    db.flush()
    return event


@pytest.fixture
def dispute(db, the_vault, cast) -> Dispute:
    d = file_dispute(
        db, the_vault, cast.a, cast.user_a, [cast.loan_a.id], DisputeReason.WRONG_AMOUNT, "The balance is wrong."
    )
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
        advance(db, the_vault, d, to, cast.officer)
    d.assigned_officer_id = cast.officer.id
    db.commit()
    return d


def correct(db, v, cast, bank, dispute, amount="900.00") -> int:
    """The furnisher's corrected answer, as the API keeps it: the record as
    it should read, waiting for the decision. Returns the version it would
    become."""
    cipher = v.cipher(db, cast.a.data_key_id)
    latest = cast.loan_a.versions[-1]
    current = open_payload(cipher, latest)
    proposal = RecordInput(
        cast.loan_a.category,
        current["reference"],
        latest.status,
        latest.is_negative,
        latest.ended_on,
        details={**{k: x for k, x in current.items() if k != "reference"}, "balance": amount},
    )
    item = db.scalar(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id))
    response = FurnisherResponse(
        id=new_id(),
        dispute_id=dispute.id,
        item_id=item.id,
        institution_id=bank.id,
        answer=Answer.CORRECTED,
        proposed_on_version=latest.version,
    )
    cipher.seal_field(response, "reviewed", "the repayment ledger")
    cipher.seal_field(response, "correction", proposal.to_json())
    db.add(response)
    db.commit()
    return db.get(CreditRecord, cast.loan_a.id).current_version + 1


def inbox_of(db, user) -> int:
    return count(db, Message, Message.user_id == user.id)


def test_only_the_assigned_officer_decides(db, the_vault, cast, dispute):
    with pytest.raises(DisputeError, match="Take the case"):
        decisions.decide(db, the_vault, dispute, cast.officer2, "deleted", "not theirs")
    with pytest.raises(DisputeError, match="officer"):
        decisions.decide(db, the_vault, dispute, cast.user_a, "deleted", "mine")
    with pytest.raises(DisputeError, match="reason"):
        decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "  ")
    with pytest.raises(DisputeError, match="does not apply"):
        decisions.decide(db, the_vault, dispute, cast.officer, "repaired", "a repair of an objection")
    assert dispute.status is S.UNDER_REVIEW
    assert count(db, OutcomeLetter) == 0


def test_corrected_needs_the_furnishers_correction(db, the_vault, cast, dispute):
    with pytest.raises(DisputeError, match="No correction"):
        decisions.decide(db, the_vault, dispute, cast.officer, "corrected", "the balance was wrong")
    db.rollback()
    assert db.get(Dispute, dispute.id).status is S.UNDER_REVIEW


def test_corrected_writes_the_letter_and_tells_recipients_in_the_look_back_window(
    db, the_vault, cast, bank, others, dispute
):
    recent, old, employer = others
    received(db, the_vault, cast.a, recent, [cast.loan_a.id], "loan_approval", 30)
    received(db, the_vault, cast.a, old, [cast.loan_a.id], "loan_approval", 200)  # outside six months
    received(db, the_vault, cast.a, employer, [cast.loan_a.id], "employment_screening", 400)  # inside two years
    received(db, the_vault, cast.a, bank, [cast.card_a.id], "loan_approval", 10)  # another record only
    db.commit()
    version = correct(db, the_vault, cast, bank, dispute)
    inbox = inbox_of(db, cast.user_a)

    decisions.decide(db, the_vault, dispute, cast.officer, DisputeOutcome.CORRECTED, "The bank corrected it.")
    db.commit()

    assert dispute.status is S.RESOLVED
    assert dispute.outcome is DisputeOutcome.CORRECTED
    letter = decisions.letter(db, the_vault, dispute)
    assert letter.outcome is DisputeOutcome.CORRECTED
    assert letter.reason == "The bank corrected it."
    assert letter.method_code == decisions.Method.FURNISHER_CORRECTED
    (change,) = letter.change_rows
    assert (change.record_id, change.change, change.from_version, change.to_version) == (
        cast.loan_a.id,
        decisions.Change.NEW_VERSION,
        version - 1,
        version,
    )
    told = decisions.recipients(db, dispute)
    assert {n.institution.code for n in told} == {"recent-lender", "employer"}
    assert all(n.acknowledged_at is None and n.record_id == cast.loan_a.id for n in told)
    notice = db.scalar(select(CorrectionNotice).where(CorrectionNotice.institution_id == recent.id))
    body = json.loads(the_vault.cipher(db, cast.a.data_key_id).open_field(notice, "body"))
    assert body["outcome"] == "corrected"
    assert body["record"]["version"] == version
    assert db.get(CreditRecord, cast.loan_a.id).current_version == version
    assert body["record"]["details"]["balance"] == "900.00"
    # Each notice is an access event the subject sees, and the subject is told.
    kinds = db.scalars(
        select(AccessEvent.institution_id).where(
            AccessEvent.subject_id == cast.a.id, AccessEvent.kind == EventKind.CORRECTION_NOTICE
        )
    )
    assert set(kinds) == {recent.id, employer.id}
    assert inbox_of(db, cast.user_a) == inbox + 1


def test_deleted_marks_the_record_and_the_letter_says_so(db, the_vault, cast, dispute):
    decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "Not the subject's loan.")
    db.commit()
    record = db.get(CreditRecord, cast.loan_a.id)
    assert record.deleted_at is not None
    assert db.get(CreditRecord, cast.card_a.id).deleted_at is None
    letter = decisions.letter(db, the_vault, dispute)
    assert [c.change for c in letter.change_rows] == [decisions.Change.DELETED]
    assert letter.method_code == decisions.Method.OFFICER_REVIEW
    assert decisions.recipients(db, dispute) == []  # nobody had received it


def test_unverifiable_is_marked_or_deleted_by_policy(app, db, the_vault, cast, dispute):
    decisions.decide(db, the_vault, dispute, cast.officer, "unverifiable", "No answer that helps.")
    db.commit()
    record = db.get(CreditRecord, cast.loan_a.id)
    assert record.unverifiable_since is not None
    assert record.deleted_at is None

    app.config["UNVERIFIABLE_POLICY"] = "delete"
    d2 = file_dispute(db, the_vault, cast.a, cast.user_a, [cast.card_a.id], "not_mine", "Not my card.")
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
        advance(db, the_vault, d2, to, cast.officer)
    d2.assigned_officer_id = cast.officer.id
    decisions.decide(
        db,
        the_vault,
        d2,
        cast.officer,
        "unverifiable",
        "Could not be verified.",
        unverifiable_policy=app.config["UNVERIFIABLE_POLICY"],
    )
    db.commit()
    assert db.get(CreditRecord, cast.card_a.id).deleted_at is not None


def test_a_stale_decision_changes_nothing(db, the_vault, cast, dispute):
    seen = dispute.lock_version
    advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, cast.officer2)  # someone else, first
    advance(db, the_vault, dispute, S.UNDER_REVIEW, cast.officer2)
    db.commit()
    with pytest.raises(StaleDispute):
        decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "late", expected_version=seen)
    db.rollback()
    assert db.get(CreditRecord, cast.loan_a.id).deleted_at is None
    assert count(db, OutcomeLetter) == 0


def test_statements_after_verified_as_accurate(db, the_vault, cast, dispute):
    with pytest.raises(ValueError, match="verified as accurate"):
        decisions.add_statement(db, the_vault, dispute, cast.loan_a.id, cast.user_a, "too early")
    decisions.decide(db, the_vault, dispute, cast.officer, "verified_accurate", "The ledger matches.")
    with pytest.raises(ValueError, match="at most 200"):
        decisions.add_statement(db, the_vault, dispute, cast.loan_a.id, cast.user_a, "字" * 201)
    with pytest.raises(ValueError, match="record of this dispute"):
        decisions.add_statement(db, the_vault, dispute, cast.card_a.id, cast.user_a, "not in the case")
    with pytest.raises(ValueError, match="Write"):
        decisions.add_statement(db, the_vault, dispute, cast.loan_a.id, cast.user_a, "   ")
    decisions.add_statement(db, the_vault, dispute, cast.loan_a.id, cast.user_a, "字" * 200)
    with pytest.raises(ValueError, match="already"):
        decisions.add_statement(db, the_vault, dispute, cast.loan_a.id, cast.user_a, "again")
    db.commit()
    assert decisions.statements_for(db, the_vault, cast.a, [cast.loan_a.id, cast.card_a.id]) == {
        cast.loan_a.id: ["字" * 200]
    }
    assert count(db, RecordStatement) == 1


def test_the_furnishers_deadline_passing_leaves_the_record_unverifiable(db, the_vault, cast, dispute):
    advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, cast.officer)
    other = file_dispute(db, the_vault, cast.a, cast.user_a, [cast.card_a.id], "not_mine", "Not my card.")
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER):
        advance(db, the_vault, other, to, cast.officer)
    db.commit()
    inbox = inbox_of(db, cast.user_a)

    assert decisions.expire_overdue(db, the_vault, today=dispute.due_on) == []  # the last day is still in time
    expired = decisions.expire_overdue(db, the_vault, today=dispute.due_on + timedelta(days=1))
    db.commit()
    assert {d.id for d in expired} == {dispute.id, other.id}
    assert dispute.status is S.RESOLVED
    assert dispute.outcome is DisputeOutcome.UNVERIFIABLE
    assert db.get(CreditRecord, cast.loan_a.id).unverifiable_since is not None
    letter = decisions.letter(db, the_vault, dispute)
    assert letter.method_code == decisions.Method.NO_ANSWER
    assert letter.reason == decisions.NO_ANSWER_REASON
    step = dispute.steps[-1]
    event = db.get(AccessEvent, step.event_id)
    detail, _ = open_detail(the_vault.cipher(db, cast.a.data_key_id), event)
    assert step.actor_user_id is None
    assert event.channel == "staff"
    assert detail["outcome"] == "unverifiable"
    assert inbox_of(db, cast.user_a) == inbox + 2


def test_a_subject_without_an_account_is_told_at_its_contact(db, the_vault, cast, dispute):
    from portal.accounts.models import User

    db.get(User, cast.user_a.id).is_active = False
    the_vault.cipher(db, cast.a.data_key_id).seal_field(cast.a, "contact_email", "a@contact.example")
    db.commit()
    before = count(db, Message, Message.user_id.is_(None))
    decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "Not theirs.")
    db.commit()
    assert count(db, Message, Message.user_id.is_(None)) == before + 1
    message = db.scalar(select(Message).where(Message.user_id.is_(None)).order_by(Message.created_at.desc()))
    assert the_vault.cipher(db, message.data_key_id).open_field(message, "email") == "a@contact.example"


def test_the_daily_sweep_command(app, db, the_vault, cast, dispute):
    advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, cast.officer)
    db.commit()
    due = dispute.due_on
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["disputes", "expire", "--today", "tomorrow"])
    assert bad.exit_code == 2
    assert "tomorrow" in bad.output
    quiet = runner.invoke(args=["disputes", "expire", "--today", due.isoformat()])
    assert quiet.exit_code == 0
    assert "0 overdue case(s) resolved" in quiet.output
    done = runner.invoke(args=["disputes", "expire", "--today", (due + timedelta(days=1)).isoformat()])
    assert done.exit_code == 0
    assert f"{dispute.id} resolved as unverifiable" in done.output
    db.expire_all()
    assert db.get(Dispute, dispute.id).outcome is DisputeOutcome.UNVERIFIABLE


def test_the_letter_goes_out_in_the_holders_language(db, the_vault, cast, dispute):
    from portal.accounts.models import User

    db.get(User, cast.user_a.id).locale = "en"
    db.commit()
    decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "Not the subject's loan.")
    db.commit()
    message = db.scalar(select(Message).where(Message.user_id == cast.user_a.id).order_by(Message.created_at.desc()))
    cipher = the_vault.cipher(db, message.data_key_id)
    body = cipher.open_field(message, "body")
    assert cipher.open_field(message, "title") == "Your dispute has been decided: Deleted"
    assert "Reason: Not the subject's loan." in body
    assert "deleted; it is no longer disclosed" in body
    assert "A compliance officer reviewed the case" in body
    assert cipher.open_field(message, "email") == "a@test.example"


def test_the_sweep_spares_what_furnishers_answered(db, the_vault, cast, bank, others):
    """One case covers the bank's loan and a lender's loan: the lender
    answered, the bank did not. Only the bank's record becomes unverifiable.
    A case whose furnishers all answered goes back to the officer."""
    lender = others[0]
    theirs = furnish(
        db, the_vault, lender, cast.a, RecordInput(cast.loan_a.category, "L-1", cast.loan_a.versions[-1].status, False)
    )
    both = file_dispute(
        db, the_vault, cast.a, cast.user_a, [cast.loan_a.id, theirs.record_id], "wrong_amount", "Both are wrong."
    )
    answered = file_dispute(db, the_vault, cast.a, cast.user_a, [cast.card_a.id], "wrong_amount", "Wrong too.")
    for d in (both, answered):
        for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER):
            advance(db, the_vault, d, to, cast.officer)
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    for d, record_id, institution in ((both, theirs.record_id, lender), (answered, cast.card_a.id, bank)):
        item = db.scalar(select(DisputeItem).where(DisputeItem.dispute_id == d.id, DisputeItem.record_id == record_id))
        row = FurnisherResponse(
            id=new_id(),
            dispute_id=d.id,
            item_id=item.id,
            institution_id=institution.id,
            answer=Answer.VERIFIED_ACCURATE,
        )
        cipher.seal_field(row, "reviewed", "our ledger")
        db.add(row)
    db.commit()

    decisions.expire_overdue(db, the_vault, today=both.due_on + timedelta(days=1))
    db.commit()
    assert both.outcome is DisputeOutcome.UNVERIFIABLE
    assert db.get(CreditRecord, cast.loan_a.id).unverifiable_since is not None
    assert db.get(CreditRecord, theirs.record_id).unverifiable_since is None
    assert [c.change for c in decisions.letter(db, the_vault, both).change_rows] == [
        decisions.Change.MARKED_UNVERIFIABLE,
        decisions.Change.UNCHANGED,
    ]
    assert answered.status is S.UNDER_REVIEW
    assert db.get(CreditRecord, cast.card_a.id).unverifiable_since is None


def test_the_sweep_applies_a_correction_answered_in_time(db, the_vault, cast, bank, others):
    """The lender corrected its record in time, the bank did not answer:
    the lender's correction becomes its record's next version, the bank's
    record becomes unverifiable."""
    lender = others[0]
    theirs = furnish(
        db, the_vault, lender, cast.a, RecordInput(cast.loan_a.category, "L-1", cast.loan_a.versions[-1].status, False)
    )
    both = file_dispute(
        db, the_vault, cast.a, cast.user_a, [cast.loan_a.id, theirs.record_id], "wrong_amount", "Both are wrong."
    )
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER):
        advance(db, the_vault, both, to, cast.officer)
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    item = db.scalar(
        select(DisputeItem).where(DisputeItem.dispute_id == both.id, DisputeItem.record_id == theirs.record_id)
    )
    row = FurnisherResponse(
        id=new_id(), dispute_id=both.id, item_id=item.id, institution_id=lender.id, answer=Answer.CORRECTED
    )
    cipher.seal_field(row, "reviewed", "our ledger")
    cipher.seal_field(
        row,
        "correction",
        RecordInput(
            cast.loan_a.category, "L-1", cast.loan_a.versions[-1].status, False, None, {"balance": "12.00"}
        ).to_json(),
    )
    db.add(row)
    db.commit()
    assert db.get(CreditRecord, theirs.record_id).current_version == 1

    decisions.expire_overdue(db, the_vault, today=both.due_on + timedelta(days=1))
    db.commit()
    assert both.outcome is DisputeOutcome.UNVERIFIABLE
    assert db.get(CreditRecord, cast.loan_a.id).unverifiable_since is not None
    corrected = db.get(CreditRecord, theirs.record_id)
    assert corrected.current_version == 2
    assert corrected.unverifiable_since is None
    assert [(c.change, c.to_version) for c in decisions.letter(db, the_vault, both).change_rows] == [
        (decisions.Change.MARKED_UNVERIFIABLE, None),
        (decisions.Change.NEW_VERSION, 2),
    ]


def test_a_correction_waits_for_the_decision_and_another_outcome_leaves_the_record(
    db, the_vault, cast, bank, others, dispute
):
    received(db, the_vault, cast.a, others[0], [cast.loan_a.id], "loan_approval", 5)
    correct(db, the_vault, cast, bank, dispute)
    assert db.get(CreditRecord, cast.loan_a.id).current_version == 1, "not before the officer decides"
    decisions.decide(
        db,
        the_vault,
        dispute,
        cast.officer,
        "verified_accurate",
        "The original is accurate.",
        per_record={cast.loan_a.id: decisions.RecordDecision("verified_accurate", "The contract shows 1,000.00.")},
    )
    db.commit()
    letter = decisions.letter(db, the_vault, dispute)
    (change,) = letter.change_rows
    assert change.change == decisions.Change.UNCHANGED
    assert change.to_version is None
    assert letter.method_code != decisions.Method.FURNISHER_CORRECTED
    assert db.get(CreditRecord, cast.loan_a.id).current_version == 1
    assert decisions.recipients(db, dispute) == []
    answer = db.scalar(select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id))
    assert answer.correction_ct is None, "the proposal is not kept"
    assert answer.corrected_version is None, "the proposal is not kept"


def test_a_correction_outdated_by_a_later_version_is_not_applied(db, the_vault, cast, bank, dispute):
    """The bank proposed a balance against version 1, then furnished version 2
    itself: deciding "corrected" would undo version 2, so it is refused."""
    correct(db, the_vault, cast, bank, dispute, amount="900.00")
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    latest = cast.loan_a.versions[-1]
    payload = open_payload(cipher, latest)
    furnish(
        db,
        the_vault,
        bank,
        cast.a,
        RecordInput(
            cast.loan_a.category,
            payload["reference"],
            latest.status,
            latest.is_negative,
            latest.ended_on,
            {**{k: x for k, x in payload.items() if k != "reference"}, "balance": "5.00"},
        ),
    )
    db.commit()
    version = dispute.lock_version
    with pytest.raises(DisputeError, match="changed this record since it proposed its correction"):
        decisions.decide(db, the_vault, dispute, cast.officer, "corrected", "As the bank says.")
    db.rollback()
    assert db.get(Dispute, dispute.id).lock_version == version
    assert dispute.status is S.UNDER_REVIEW
    decisions.decide(
        db,
        the_vault,
        dispute,
        cast.officer,
        "verified_accurate",
        "Version 2 is right.",
        per_record={cast.loan_a.id: decisions.RecordDecision("verified_accurate", "The bank sent version 2 since.")},
    )
    db.commit()
    record = db.get(CreditRecord, cast.loan_a.id)
    assert record.current_version == 2
    assert open_payload(cipher, record.versions[-1])["balance"] == "5.00"
    (change,) = decisions.letter(db, the_vault, dispute).change_rows
    assert change.change == decisions.Change.UNCHANGED


def test_a_correction_applied_before_corrections_waited_is_still_in_the_letter(
    db, the_vault, cast, bank, others, dispute
):
    """Answers from before the upgrade: the correction was furnished when
    sent. Whatever the decision, the letter and the recipients say so."""
    received(db, the_vault, cast.a, others[0], [cast.loan_a.id], "loan_approval", 5)
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    latest = cast.loan_a.versions[-1]
    payload = open_payload(cipher, latest)
    version = furnish(
        db,
        the_vault,
        bank,
        cast.a,
        RecordInput(
            cast.loan_a.category,
            payload["reference"],
            latest.status,
            latest.is_negative,
            latest.ended_on,
            {**{k: x for k, x in payload.items() if k != "reference"}, "balance": "1.00"},
        ),
    )
    item = db.scalar(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id))
    row = FurnisherResponse(
        id=new_id(),
        dispute_id=dispute.id,
        item_id=item.id,
        institution_id=bank.id,
        answer=Answer.CORRECTED,
        corrected_version=version.version,
    )
    cipher.seal_field(row, "reviewed", "the ledger")
    db.add(row)
    db.commit()
    decisions.decide(db, the_vault, dispute, cast.officer, "verified_accurate", "Accurate as corrected.")
    db.commit()
    (change,) = decisions.letter(db, the_vault, dispute).change_rows
    assert (change.change, change.from_version, change.to_version) == (decisions.Change.NEW_VERSION, 1, 2)
    assert [n.institution.code for n in decisions.recipients(db, dispute)] == ["recent-lender"]


def test_the_agent_who_filed_gets_the_letter_too(db, the_vault, world, cast):
    from portal.accounts.models import User

    firm, agent = db.get(Subject, world.firm_f.id), db.get(User, world.agent_f.id)
    (loan,) = db.scalars(select(CreditRecord).where(CreditRecord.subject_id == firm.id))
    d = file_dispute(db, the_vault, firm, agent, [loan.id], "not_mine", "Not the firm's loan.")
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
        advance(db, the_vault, d, to, cast.officer)
    d.assigned_officer_id = cast.officer.id
    agent_inbox, rep_inbox = inbox_of(db, agent), inbox_of(db, db.get(User, world.rep_f.id))
    decisions.decide(db, the_vault, d, cast.officer, "deleted", "Not the firm's.")
    db.commit()
    assert (inbox_of(db, agent), inbox_of(db, db.get(User, world.rep_f.id))) == (agent_inbox + 1, rep_inbox + 1)


def test_no_statement_beside_a_record_deleted_since(db, the_vault, cast, dispute):
    decisions.decide(db, the_vault, dispute, cast.officer, "verified_accurate", "Accurate.")
    db.get(CreditRecord, cast.loan_a.id).deleted_at = utcnow()
    with pytest.raises(ValueError, match="deleted"):
        decisions.add_statement(db, the_vault, dispute, cast.loan_a.id, cast.user_a, "Paid late once only.")


def test_the_sweep_passes_over_shredded_subjects(db, the_vault, cast, dispute):
    from portal.accounts.services import shred_subject

    advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, cast.officer)
    shred_subject(db, the_vault, cast.a)
    db.commit()
    assert decisions.expire_overdue(db, the_vault, today=dispute.due_on + timedelta(days=1)) == []


@pytest.mark.committing  # the job thread commits on a connection of its own
def test_the_server_sweeps_deadlines_in_the_background(app, db, the_vault, cast, dispute):
    """The job thread of `portal serve` sweeps at once and then
    periodically; SWEEP_MINUTES=0 turns the sweep off."""
    import time

    from portal import worker
    from portal.disputes import sweeper

    advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, cast.officer)
    dispute.due_on = dispute.due_on - timedelta(days=60)
    db.commit()
    app.config["SWEEP_MINUTES"] = 0
    assert "dispute deadline sweep" not in [name for name, _, _ in worker.jobs(app)]
    app.config["SWEEP_MINUTES"] = 60
    thread, stop = worker.start(app)
    try:
        for _ in range(600):  # wait for the first run, whenever the machine gets to it
            db.expire_all()
            if db.get(Dispute, dispute.id).status is S.RESOLVED:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert db.get(Dispute, dispute.id).outcome is DisputeOutcome.UNVERIFIABLE
    assert not thread.is_alive()
    assert sweeper.sweep_once(app) == 0  # nothing left to do


# -- a decision for each record ------------------------------------------------------------------
@pytest.fixture
def two_records(db, the_vault, cast) -> Dispute:
    d = file_dispute(
        db,
        the_vault,
        cast.a,
        cast.user_a,
        [cast.loan_a.id, cast.card_a.id],
        DisputeReason.IDENTITY_THEFT,
        "The card was opened by someone else; the loan is mine.",
    )
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
        advance(db, the_vault, d, to, cast.officer)
    d.assigned_officer_id = cast.officer.id
    db.commit()
    return d


def test_records_of_one_case_can_be_decided_differently(db, the_vault, cast, others, two_records):
    received(db, the_vault, cast.a, others[0], [cast.loan_a.id, cast.card_a.id], "loan_approval", 5)
    db.commit()
    decisions.decide(
        db,
        the_vault,
        two_records,
        cast.officer,
        "verified_accurate",
        "The loan is the subject's; the card was opened with a stolen identity.",
        per_record={cast.card_a.id: "deleted"},
    )
    db.commit()
    assert db.get(CreditRecord, cast.card_a.id).deleted_at is not None
    assert db.get(CreditRecord, cast.loan_a.id).deleted_at is None
    assert two_records.outcome is DisputeOutcome.VERIFIED_ACCURATE
    items = {i.record_id: i for i in two_records.items}
    assert items[cast.card_a.id].outcome is DisputeOutcome.DELETED
    assert items[cast.loan_a.id].outcome is None
    letter = decisions.letter(db, the_vault, two_records)
    assert letter.outcomes == [DisputeOutcome.VERIFIED_ACCURATE, DisputeOutcome.DELETED]
    with force_locale("en"):
        assert letter.outcome_name == "Verified as accurate; Deleted"
        assert [c.split(":")[0] for c in letter.changes] == ["Verified as accurate", "Deleted"]
    # Only the deleted record changed: one notice, saying so.
    (notice,) = db.scalars(select(CorrectionNotice).where(CorrectionNotice.dispute_id == two_records.id)).all()
    body = json.loads(the_vault.cipher(db, cast.a.data_key_id).open_field(notice, "body"))
    assert notice.record_id == cast.card_a.id
    assert body["outcome"] == "deleted"
    assert body["record"] is None
    # A statement goes beside the record verified as accurate, not beside the other.
    decisions.add_statement(db, the_vault, two_records, cast.loan_a.id, cast.user_a, "Repaid on time since 2020.")
    with pytest.raises(ValueError, match="verified as accurate"):
        decisions.add_statement(db, the_vault, two_records, cast.card_a.id, cast.user_a, "Not mine.")


def test_a_decision_for_a_record_is_checked_before_anything_is_written(db, the_vault, cast, bank, two_records):
    version = two_records.lock_version
    for per_record, message in (
        ({cast.loan_b.id: "deleted"}, "Choose a record of this dispute"),
        ({cast.card_a.id: "erased"}, "Choose an outcome from the list"),
        ({cast.card_a.id: "repaired"}, "does not apply to this kind of case"),
        ({cast.card_a.id: "corrected"}, "No correction has been furnished for A-CARD-1"),
    ):
        with pytest.raises(DisputeError, match=message):
            decisions.decide(
                db, the_vault, two_records, cast.officer, "verified_accurate", "Checked.", per_record=per_record
            )
        db.rollback()
    assert db.get(Dispute, two_records.id).lock_version == version
    assert db.get(CreditRecord, cast.card_a.id).deleted_at is None


def test_the_e_mailed_letter_carries_its_signed_pdf(db, the_vault, cast, dispute, app, monkeypatch, pdf_text):
    """Found by a walk: the outcome letter was not attached to the e-mail.
    With a mail server the e-mail carries the letter's PDF, issued as the
    page issues it (a numbered document); without one nothing is issued."""
    from flask_babel import force_locale

    from portal.audit.models import IssuedDocument
    from portal.notifications.models import Message
    from portal.notifications.services import attachments_of

    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")  # e-mail goes out: nothing is sent in this test
    cast.user_a.locale = "en"
    with force_locale("en"):
        decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "Not the subject's loan.")
    db.flush()
    files = [f for m in db.scalars(select(Message)) for f in attachments_of(db, the_vault, m)]
    assert [f.mime_type for f in files] == ["application/pdf"]
    assert files[0].filename.endswith("-outcome.pdf")
    text = pdf_text(files[0].content, "letter.pdf")
    assert "Not the subject's loan." in text
    (document,) = db.scalars(select(IssuedDocument).where(IssuedDocument.kind == "outcome letter")).all()
    assert document.number in text.replace("\n", " ")


def test_without_a_mail_server_no_letter_pdf_is_issued(db, the_vault, cast, dispute):
    from portal.audit.models import IssuedDocument

    decisions.decide(db, the_vault, dispute, cast.officer, "deleted", "Not the subject's loan.")
    db.flush()
    assert db.scalars(select(IssuedDocument)).all() == []
