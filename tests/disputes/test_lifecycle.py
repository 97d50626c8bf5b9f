from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import AccessEvent, EventKind
from portal.disputes.lifecycle import (
    TRANSITIONS,
    DisputeError,
    IllegalTransition,
    StaleDispute,
    advance,
    days_left,
    extend,
)
from portal.disputes.models import Dispute, DisputeOutcome, DisputeReason, DisputeStatus, DisputeStep, StepKind
from portal.disputes.services import file_dispute, is_disputed
from portal.extensions import database

from .conftest import events_of

S = DisputeStatus


def at(day: int, month: int = 3) -> datetime:
    return datetime(2027, month, day, 9, tzinfo=UTC)


@pytest.fixture
def dispute(db, the_vault, cast) -> Dispute:
    d = file_dispute(
        db,
        the_vault,
        cast.a,
        cast.user_a,
        [cast.loan_a.id],
        DisputeReason.WRONG_AMOUNT,
        "The balance is wrong.",
        today=date(2027, 3, 1),
    )
    db.commit()
    return d


def walk_to(db, v, d, status, officer):
    """Take a dispute along the shortest path to `status`."""
    path = {
        S.SUBMITTED: [],
        S.ACKNOWLEDGED: [S.ACKNOWLEDGED],
        S.UNDER_REVIEW: [S.ACKNOWLEDGED, S.UNDER_REVIEW],
        S.WAITING_FOR_FURNISHER: [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER],
        S.WAITING_FOR_SUBJECT: [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_SUBJECT],
        S.RESOLVED: [S.ACKNOWLEDGED, S.UNDER_REVIEW, S.RESOLVED],
    }
    for to in path.get(status, []):
        advance(db, v, d, to, officer, "a note", DisputeOutcome.CORRECTED if to is S.RESOLVED else None, now=at(2))
    db.commit()


def test_the_whole_happy_path_writes_steps_and_events(db, the_vault, cast, dispute):
    before = events_of(db, cast.a)
    o = cast.officer
    advance(db, the_vault, dispute, S.ACKNOWLEDGED, o, now=at(2))
    advance(db, the_vault, dispute, "under_review", o, now=at(3))
    advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, o, "asked the bank", now=at(4))
    advance(db, the_vault, dispute, S.UNDER_REVIEW, o, now=at(8))
    step = advance(
        db, the_vault, dispute, S.RESOLVED, o, "the bank confirmed the repayment", DisputeOutcome.CORRECTED, now=at(9)
    )
    db.commit()
    assert dispute.status is S.RESOLVED
    assert dispute.outcome is DisputeOutcome.CORRECTED
    assert [s.step for s in dispute.steps] == [
        StepKind.FILED,
        StepKind.ACKNOWLEDGED,
        StepKind.UNDER_REVIEW,
        StepKind.WAITING_FOR_FURNISHER,
        StepKind.UNDER_REVIEW,
        StepKind.RESOLVED,
    ]
    # Five steps, and sending the case to the bank.
    assert events_of(db, cast.a) == before + 6
    forwarded = db.scalar(select(AccessEvent).where(AccessEvent.kind == EventKind.DISPUTE_FORWARDED))
    assert forwarded.institution_id == cast.loan_a.furnisher_id
    assert forwarded.actor_user_id == o.id
    event = db.get(AccessEvent, step.event_id)
    assert event.kind is EventKind.DISPUTE_STEP
    assert event.actor_user_id == o.id
    assert event.channel == "staff"
    cipher = the_vault.cipher(db, cast.a.data_key_id)
    assert cipher.open_field(step, "note") == "the bank confirmed the repayment"
    assert dispute.lock_version == 6
    assert not is_disputed(db, cast.loan_a.id)


ALL_PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("current", "to"), [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]])
def test_every_illegal_transition_refused(db, the_vault, cast, dispute, current, to):
    if current is S.WITHDRAWN:
        advance(db, the_vault, dispute, S.WITHDRAWN, cast.user_a, now=at(2))
        db.commit()
    else:
        walk_to(db, the_vault, dispute, current, cast.officer)
    assert dispute.status is current
    steps, version = len(dispute.steps), dispute.lock_version
    actor = cast.user_a if to is S.WITHDRAWN else cast.officer
    with pytest.raises(IllegalTransition):
        advance(db, the_vault, dispute, to, actor, "a reason", DisputeOutcome.CORRECTED if to is S.RESOLVED else None)
    db.rollback()
    assert dispute.status is current
    assert len(dispute.steps) == steps
    assert dispute.lock_version == version


def test_the_transition_table_is_what_the_issue_says():
    assert TRANSITIONS[S.RESOLVED] == TRANSITIONS[S.WITHDRAWN] == frozenset()
    for status in S:
        if status not in (S.RESOLVED, S.WITHDRAWN):
            assert S.WITHDRAWN in TRANSITIONS[status]
    assert S.RESOLVED in TRANSITIONS[S.UNDER_REVIEW]
    assert all(S.RESOLVED not in TRANSITIONS[s] for s in S if s is not S.UNDER_REVIEW)


def test_unknown_status_refused(db, the_vault, cast, dispute):
    with pytest.raises(IllegalTransition, match="not a status"):
        advance(db, the_vault, dispute, "closed", cast.officer)


def test_decisions_need_a_reason_and_an_outcome(db, the_vault, cast, dispute):
    walk_to(db, the_vault, dispute, S.UNDER_REVIEW, cast.officer)
    for note in (None, "", "   "):
        with pytest.raises(DisputeError, match="needs a reason"):
            advance(db, the_vault, dispute, S.RESOLVED, cast.officer, note, DisputeOutcome.DELETED)
    with pytest.raises(DisputeError, match="outcome"):
        advance(db, the_vault, dispute, S.RESOLVED, cast.officer, "reviewed")
    with pytest.raises(DisputeError, match="not an outcome"):
        advance(db, the_vault, dispute, S.RESOLVED, cast.officer, "reviewed", "maybe")
    with pytest.raises(DisputeError, match="Only a resolution"):
        advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, cast.officer, "x", DisputeOutcome.DELETED)
    with pytest.raises(DisputeError, match="what the subject is asked"):
        advance(db, the_vault, dispute, S.WAITING_FOR_SUBJECT, cast.officer, "")
    with pytest.raises(DisputeError, match="at most 2000"):
        advance(db, the_vault, dispute, S.RESOLVED, cast.officer, "x" * 2001, DisputeOutcome.DELETED)
    db.rollback()
    assert dispute.status is S.UNDER_REVIEW
    advance(db, the_vault, dispute, S.RESOLVED, cast.officer, "the furnisher could not verify", "unverifiable")
    assert dispute.outcome is DisputeOutcome.UNVERIFIABLE


def test_who_may_do_what(db, the_vault, cast, dispute):
    with pytest.raises(DisputeError, match="Only an officer"):
        advance(db, the_vault, dispute, S.ACKNOWLEDGED, cast.user_a)
    with pytest.raises(DisputeError, match="Only the subject"):
        advance(db, the_vault, dispute, S.WITHDRAWN, cast.officer)
    with pytest.raises(DisputeError, match="Only an officer"):
        extend(db, the_vault, dispute, cast.user_a, 5, "please")


def test_withdrawn_from_every_open_state(db, the_vault, cast):
    for i, status in enumerate(
        [S.SUBMITTED, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.WAITING_FOR_FURNISHER, S.WAITING_FOR_SUBJECT]
    ):
        d = file_dispute(db, the_vault, cast.a, cast.user_a, [cast.loan_a.id], list(DisputeReason)[i], "statement")
        walk_to(db, the_vault, d, status, cast.officer)
        step = advance(db, the_vault, d, S.WITHDRAWN, cast.user_a, now=at(20))
        db.commit()
        assert d.status is S.WITHDRAWN
        assert d.paused_since is None
        assert db.get(AccessEvent, step.event_id).channel == "web"


def test_waiting_for_the_subject_pauses_the_deadline(db, the_vault, cast, dispute):
    o = cast.officer
    assert dispute.due_on == date(2027, 3, 21)
    advance(db, the_vault, dispute, S.ACKNOWLEDGED, o, now=at(2))
    advance(db, the_vault, dispute, S.UNDER_REVIEW, o, now=at(3))
    advance(db, the_vault, dispute, S.WAITING_FOR_SUBJECT, o, "send the settlement letter", now=at(5))
    db.commit()
    assert dispute.paused_since == at(5)
    assert days_left(dispute, date(2027, 3, 5)) == 16
    assert days_left(dispute, date(2027, 3, 30)) == 16  # frozen
    advance(db, the_vault, dispute, S.UNDER_REVIEW, o, now=at(12))
    assert dispute.paused_since is None
    assert dispute.paused_days == 7
    assert dispute.due_on == date(2027, 3, 28)
    advance(db, the_vault, dispute, S.WAITING_FOR_SUBJECT, o, "and the bank statement", now=at(14))
    advance(db, the_vault, dispute, S.UNDER_REVIEW, o, now=at(17))
    db.commit()
    assert dispute.paused_days == 10
    assert dispute.due_on == date(2027, 3, 31)
    assert days_left(dispute, date(2027, 4, 2)) == -2


def test_extension_needs_a_reason_the_subject_sees(db, the_vault, cast, dispute):
    before = events_of(db, cast.a)
    for reason in ("", "  "):
        with pytest.raises(DisputeError, match="reason"):
            extend(db, the_vault, dispute, cast.officer, 10, reason)
    with pytest.raises(DisputeError):
        extend(db, the_vault, dispute, cast.officer, 0, "why")
    step = extend(db, the_vault, dispute, cast.officer, 10, "the furnisher must fetch its archive")
    db.commit()
    assert dispute.due_on == date(2027, 3, 31)
    assert dispute.extended_days == 10
    assert step.step is StepKind.EXTENDED
    assert the_vault.cipher(db, cast.a.data_key_id).open_field(step, "note") == "the furnisher must fetch its archive"
    assert events_of(db, cast.a) == before + 1
    advance(db, the_vault, dispute, S.WITHDRAWN, cast.user_a)
    with pytest.raises(IllegalTransition):
        extend(db, the_vault, dispute, cast.officer, 5, "too late")


def test_a_stale_version_is_refused(db, the_vault, cast, dispute):
    seen = dispute.lock_version
    advance(db, the_vault, dispute, S.ACKNOWLEDGED, cast.officer, expected_version=seen)
    db.commit()
    with pytest.raises(StaleDispute, match="reload"):
        advance(db, the_vault, dispute, S.UNDER_REVIEW, cast.officer2, expected_version=seen)
    with pytest.raises(StaleDispute):
        extend(db, the_vault, dispute, cast.officer2, 5, "why", expected_version=seen)
    assert dispute.status is S.ACKNOWLEDGED
    advance(db, the_vault, dispute, S.UNDER_REVIEW, cast.officer2, expected_version=seen + 1)


@pytest.mark.committing  # two sessions of its own, each committing
def test_two_sessions_racing_the_second_gets_stale(db, the_vault, cast, dispute):
    engine = database().engine
    with Session(engine, expire_on_commit=False) as one, Session(engine, expire_on_commit=False) as two:
        d1, d2 = one.get(Dispute, dispute.id), two.get(Dispute, dispute.id)
        assert d1.lock_version == d2.lock_version == 1
        advance(one, the_vault, d1, S.ACKNOWLEDGED, one.merge(cast.officer))
        one.commit()
        events = two.scalar(select(AccessEvent.id).where(AccessEvent.subject_id == cast.a.id).limit(1))
        assert events is not None
        with pytest.raises(StaleDispute) as refused:
            advance(two, the_vault, d2, S.WITHDRAWN, two.merge(cast.user_a))
        assert refused.value.dispute_id == dispute.id
        two.rollback()
    db.expire_all()
    fresh = db.get(Dispute, dispute.id)
    assert fresh.status is S.ACKNOWLEDGED
    assert fresh.lock_version == 2
    assert [
        s.step
        for s in db.scalars(select(DisputeStep).where(DisputeStep.dispute_id == fresh.id).order_by(DisputeStep.at))
    ] == [StepKind.FILED, StepKind.ACKNOWLEDGED]


def test_a_case_goes_to_the_furnisher_only_when_one_has_something_to_answer(db, the_vault, cast, dispute):
    from portal.audit.events import record_event
    from portal.db import new_id
    from portal.disputes.models import Answer, DisputeItem, FurnisherResponse

    o = cast.officer
    event = record_event(db, the_vault, cast.a, EventKind.SELF_QUERY)
    access = file_dispute(
        db, the_vault, cast.a, cast.user_a, [], DisputeReason.UNAUTHORISED_ACCESS, "Not me.", access_event_id=event.id
    )
    for d in (access, dispute):
        advance(db, the_vault, d, S.ACKNOWLEDGED, o)
        advance(db, the_vault, d, S.UNDER_REVIEW, o)
    with pytest.raises(DisputeError, match="no furnisher"):
        advance(db, the_vault, access, S.WAITING_FOR_FURNISHER, o)
    item = db.scalar(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id))
    answered = FurnisherResponse(
        id=new_id(),
        dispute_id=dispute.id,
        item_id=item.id,
        institution_id=cast.loan_a.furnisher_id,
        answer=Answer.VERIFIED_ACCURATE,
    )
    the_vault.cipher(db, cast.a.data_key_id).seal_field(answered, "reviewed", "the ledger")
    db.add(answered)
    db.flush()
    with pytest.raises(DisputeError, match="already answered"):
        advance(db, the_vault, dispute, S.WAITING_FOR_FURNISHER, o)


def test_the_subjects_new_evidence_makes_an_open_case_page_stale(db, the_vault, cast, dispute):
    from portal.disputes.evidence import Upload
    from portal.disputes.services import add_evidence

    from .conftest import PDF

    seen = dispute.lock_version
    add_evidence(db, the_vault, dispute, cast.user_a, [Upload("more.pdf", PDF)])
    db.commit()
    with pytest.raises(StaleDispute):
        advance(db, the_vault, dispute, S.ACKNOWLEDGED, cast.officer, expected_version=seen)
