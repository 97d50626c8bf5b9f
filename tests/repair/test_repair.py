"""Firms' credit repair: when it may be asked, what it needs, and what an
approval does to what institutions receive."""

from datetime import date

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.disputes import decisions
from portal.disputes.evidence import EvidenceRejected, Upload
from portal.disputes.lifecycle import DisputeError, advance
from portal.disputes.models import DisputeKind, DisputeOutcome, DisputeReason, DisputeStatus
from portal.disputes.services import DuplicateDispute, disputed_records, file_dispute
from portal.institutions.models import Institution
from portal.records.models import Category, CreditRecord, RecordStatus, Subject
from portal.records.services import RecordInput, furnish
from portal.repair import services as repair
from tests.cast import PDF, PNG

S = DisputeStatus
COMMITMENT = Upload("commitment.pdf", PDF, "application/pdf")
PROOF = [Upload("receipt.png", PNG, "image/png")]


@pytest.fixture
def firm(world, db):
    return db.get(Subject, world.firm_f.id)


@pytest.fixture
def rep(world, db):
    return db.get(User, world.rep_f.id)


@pytest.fixture
def penalty(world, db, the_vault, firm):
    bank = db.get(Institution, world.bank.id)
    version = furnish(
        db,
        the_vault,
        bank,
        firm,
        RecordInput(
            Category.ADMINISTRATIVE_PENALTY,
            "PEN-1",
            RecordStatus.IN_FORCE,
            True,
            None,
            {
                "decision_number": "明市监罚字〔2025〕7号",
                "amount": "5000.00",
                "currency": "CNY",
                "decided_on": "2025-06-01",
                "minimum_publicity_until": "2025-08-30",
            },
        ),
    )
    db.commit()
    return db.get(CreditRecord, version.record_id)


def test_repair_may_be_asked_the_day_after_the_minimum_period():
    pen = Category.ADMINISTRATIVE_PENALTY
    assert repair.repair_from(pen, {"minimum_publicity_until": "2025-08-30"}) == date(2025, 8, 31)
    assert repair.repair_from(pen, {"decided_on": "2024-02-29"}) == date(2025, 2, 28)  # one year at most
    assert repair.repair_from(pen, {"decided_on": "not a date"}) is None
    assert repair.repair_from(Category.LOAN, {"minimum_publicity_until": "2025-08-30"}) is None


def test_too_early_or_without_the_documents_is_refused(db, the_vault, firm, rep, penalty):
    with pytest.raises(ValueError, match="from 2025-08-31"):
        repair.apply(db, the_vault, firm, rep, penalty.id, "We paid.", COMMITMENT, PROOF, today=date(2025, 8, 30))
    with pytest.raises(EvidenceRejected, match="commitment"):
        repair.apply(db, the_vault, firm, rep, penalty.id, "We paid.", None, PROOF, today=date(2025, 9, 1))
    with pytest.raises(EvidenceRejected, match="rectification"):
        repair.apply(db, the_vault, firm, rep, penalty.id, "We paid.", COMMITMENT, [], today=date(2025, 9, 1))
    loan = db.scalar(
        select(CreditRecord).where(CreditRecord.subject_id == firm.id, CreditRecord.category == Category.LOAN)
    )
    with pytest.raises(ValueError, match="administrative penalties"):
        repair.apply(db, the_vault, firm, rep, loan.id, "We paid.", COMMITMENT, PROOF, today=date(2025, 9, 1))


def test_persons_and_other_firms_cannot_apply(db, the_vault, world, firm, penalty):
    person = db.get(Subject, world.person_a.id)
    with pytest.raises(ValueError, match="firms"):
        repair.apply(db, the_vault, person, db.get(User, world.user_a.id), penalty.id, "x", COMMITMENT, PROOF)
    other = db.get(Subject, world.firm_g.id)
    with pytest.raises(ValueError, match="own report"):
        repair.apply(db, the_vault, other, db.get(User, world.rep_g.id), penalty.id, "x", COMMITMENT, PROOF)


def test_an_approved_repair_ends_the_publicity(db, the_vault, cast, firm, rep, penalty):
    case = repair.apply(
        db, the_vault, firm, rep, penalty.id, "Fine paid, controls in place.", COMMITMENT, PROOF, today=date(2025, 9, 1)
    )
    db.commit()
    assert case.kind is DisputeKind.CREDIT_REPAIR
    assert len(case.evidence) == 2
    # An application is not a dispute of accuracy: no "under dispute" marker.
    assert disputed_records(db, [penalty.id]) == set()
    with pytest.raises(DuplicateDispute):
        repair.apply(db, the_vault, firm, rep, penalty.id, "Again.", COMMITMENT, PROOF, today=date(2025, 9, 2))
    for to in (S.ACKNOWLEDGED, S.UNDER_REVIEW):
        advance(db, the_vault, case, to, cast.officer)
    case.assigned_officer_id = cast.officer.id
    with pytest.raises(DisputeError, match="does not apply"):
        decisions.decide(db, the_vault, case, cast.officer, DisputeOutcome.DELETED, "wrong kind of outcome")
    decisions.decide(db, the_vault, case, cast.officer, DisputeOutcome.REPAIRED, "Rectified; commitment signed.")
    db.commit()
    assert db.get(CreditRecord, penalty.id).publicity_ended_at is not None
    letter = decisions.letter(db, the_vault, case)
    assert [c.change for c in letter.change_rows] == [decisions.Change.PUBLICITY_ENDED]
    assert repair.repair_dates(db, the_vault, firm, [db.get(CreditRecord, penalty.id)]) == {}


def test_objections_cannot_use_the_repair_reason(db, the_vault, firm, rep, penalty):
    with pytest.raises(ValueError, match="reason"):
        file_dispute(db, the_vault, firm, rep, [penalty.id], DisputeReason.CREDIT_REPAIR, "sneaky")
