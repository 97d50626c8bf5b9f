"""The lifecycle of a dispute.

submitted → acknowledged → under_review → (waiting_for_furnisher |
waiting_for_subject) → under_review … → resolved (with an outcome); withdrawn
by the subject from any open state; nothing after resolved or withdrawn.

Every step is a timeline entry (DisputeStep) and an access event of the
subject (DISPUTE_STEP), written in the caller's transaction. Two officers
acting on one case at once cannot overwrite each other: `lock_version` is the
mapper's version counter, so the second flush raises StaleDispute
(`versions`). Services flush, never commit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from portal.accounts.models import Role, User
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes.deadlines import Clock, DeadlineError
from portal.disputes.models import (
    Dispute,
    DisputeItem,
    DisputeOutcome,
    DisputeStatus,
    DisputeStep,
    FurnisherResponse,
    Regime,
    StepKind,
)
from portal.disputes.sharing import recipients
from portal.disputes.versions import DisputeError, IllegalTransition, StaleDispute, check_version, flush_dispute, touch
from portal.i18n import N_
from portal.localtime import day_of
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, Subject

S = DisputeStatus
TRANSITIONS: dict[DisputeStatus, frozenset[DisputeStatus]] = {
    S.SUBMITTED: frozenset({S.ACKNOWLEDGED, S.WITHDRAWN}),
    S.ACKNOWLEDGED: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.UNDER_REVIEW: frozenset({S.WAITING_FOR_FURNISHER, S.WAITING_FOR_SUBJECT, S.RESOLVED, S.WITHDRAWN}),
    S.WAITING_FOR_FURNISHER: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.WAITING_FOR_SUBJECT: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.RESOLVED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
# Steps that need a note the subject can read.
NOTE_REQUIRED = frozenset({S.RESOLVED, S.WAITING_FOR_SUBJECT})
MAX_NOTE = 2000


def allowed(current: DisputeStatus | str, to: DisputeStatus | str) -> bool:
    return DisputeStatus(to) in TRANSITIONS[DisputeStatus(current)]


def _day(moment: datetime) -> date:
    return day_of(moment)


def clock_of(dispute: Dispute) -> Clock:
    return Clock(
        dispute.due_on,
        None if dispute.paused_since is None else _day(dispute.paused_since),
        dispute.paused_days or 0,
        dispute.extended_days or 0,
    )


def days_left(dispute: Dispute, today: date | None = None) -> int:
    return clock_of(dispute).days_left(today or local_today())


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise DisputeError(N_("A note is at most %(max)d characters."), max=MAX_NOTE)
    return note


def write_step(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    step: StepKind,
    actor: User | None,
    note: str | None,
    detail: dict[str, Any] | None = None,
    kind: EventKind = EventKind.DISPUTE_STEP,
    now: datetime | None = None,
    institution_id: uuid.UUID | None = None,
    touch: bool = True,
) -> DisputeStep:
    """A timeline entry and its access event, in the caller's transaction.
    No actor: the portal itself (a deadline passed) or, with
    `institution_id`, a furnisher through the API. A new entry changes the
    case: its version moves on (`touch`), so an officer's page open from
    before it is stale."""
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    if institution_id is not None:
        channel = "api"
    elif actor is None or Role(actor.role).is_staff:
        channel = "staff"
    else:
        channel = "web"
    event = record_event(
        session,
        vault,
        subject,
        kind,
        channel=channel,
        actor_user_id=actor.id if actor else None,
        institution_id=institution_id,
        detail={"dispute_id": str(dispute.id), "step": StepKind(step).value, **(detail or {})},
    )
    row = DisputeStep(
        id=new_id(),
        dispute_id=dispute.id,
        at=now or utcnow(),
        step=step,
        actor_user_id=actor.id if actor else None,
        event_id=event.id,
    )
    cipher.seal_field(row, "note", note)
    session.add(row)
    if touch:
        flag_modified(dispute, "status")  # an UPDATE, so the version counter moves
    session.flush()
    return row


def advance(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    to: DisputeStatus | str,
    actor: User | None,
    note: str | None = None,
    outcome: DisputeOutcome | str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
    institution_id: uuid.UUID | None = None,
) -> DisputeStep:
    """Move a dispute to `to`. Officers move cases along; only the subject's
    side withdraws. Resolving needs an outcome and a reason; asking the
    subject for something needs a note saying what. Entering
    waiting_for_subject pauses the deadline, leaving it resumes it (the days
    waited are added). With no actor the portal moves the case itself: back
    to review when the furnisher has answered (`institution_id`), or to a
    resolution when the furnisher's deadline passed."""
    try:
        to = DisputeStatus(to)
    except ValueError:
        raise IllegalTransition(N_("%(status)s is not a status of a dispute."), status=repr(to)) from None
    current = DisputeStatus(dispute.status)
    check_version(dispute, expected_version)
    if not current.is_open:
        raise IllegalTransition(N_("This dispute is closed; nothing can follow."))
    # The portal itself resolves a case whose furnisher let the deadline pass.
    expiry = actor is None and current is S.WAITING_FOR_FURNISHER and to is S.RESOLVED
    if to not in TRANSITIONS[current] and not expiry:
        raise IllegalTransition(
            N_("This step does not follow from the case's status now; reload the case to see what it allows.")
        )
    if actor is None:
        if not (current is S.WAITING_FOR_FURNISHER and to in (S.UNDER_REVIEW, S.RESOLVED)):
            raise DisputeError(N_("Only an officer can move a dispute along."))
        staff = True
    else:
        staff = Role(actor.role).is_staff
    if to is S.WITHDRAWN and staff:
        raise DisputeError(N_("Only the subject (or whoever acts for them) can withdraw a dispute."))
    if to is not S.WITHDRAWN and not staff:
        raise DisputeError(N_("Only an officer can move a dispute along."))
    if to is S.WAITING_FOR_FURNISHER:
        _check_forwardable(session, dispute)
    note = _clean_note(note)
    if to in NOTE_REQUIRED and note is None:
        raise DisputeError(
            N_("A decision needs a reason.") if to is S.RESOLVED else N_("Say what the subject is asked for.")
        )
    if to is S.RESOLVED:
        if outcome is None:
            raise DisputeError(N_("Resolving a dispute needs an outcome."))
        try:
            outcome = DisputeOutcome(outcome)
        except ValueError:
            raise DisputeError(N_("%(outcome)s is not an outcome of a dispute."), outcome=repr(outcome)) from None
    elif outcome is not None:
        raise DisputeError(N_("Only a resolution has an outcome."))

    now = now or utcnow()
    clock = clock_of(dispute)
    if current is S.WAITING_FOR_SUBJECT:
        clock = clock.resume(_day(now))
    if to is S.WAITING_FOR_SUBJECT:
        clock = clock.pause(_day(now))
    dispute.status = to
    dispute.outcome = outcome
    dispute.due_on, dispute.paused_days = clock.due_on, clock.paused_days
    dispute.paused_since = now if clock.paused else None
    flush_dispute(session, dispute)
    detail: dict[str, Any] = {"from": current.value, "to": to.value, "due_on": dispute.due_on.isoformat()}
    if outcome is not None:
        detail["outcome"] = outcome.value
    step = write_step(
        session,
        vault,
        dispute,
        StepKind(to.value),
        actor,
        note,
        detail,
        now=now,
        institution_id=institution_id,
        touch=False,
    )
    if to is S.WAITING_FOR_FURNISHER:
        _forward(session, vault, dispute, actor)
    return step


def _furnishers(session: Session, dispute: Dispute) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The dispute's records by furnisher, and whether each was answered."""
    rows = session.execute(
        select(CreditRecord.furnisher_id, DisputeItem.id, FurnisherResponse.id)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .outerjoin(FurnisherResponse, FurnisherResponse.item_id == DisputeItem.id)
        .where(DisputeItem.dispute_id == dispute.id)
    ).all()
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for furnisher_id, _item, answer in rows:
        out.setdefault(furnisher_id, [])
        if answer is None:
            out[furnisher_id].append(_item)
    return out


def _check_forwardable(session: Session, dispute: Dispute) -> None:
    furnishers = _furnishers(session, dispute)
    if not furnishers:
        raise DisputeError(N_("This case disputes an access, not a record: there is no furnisher to ask."))
    if not any(furnishers.values()):
        raise DisputeError(N_("Every furnisher has already answered: review the answers and decide."))


def _forward(session: Session, vault: Vault, dispute: Dispute, actor: User | None) -> None:
    """Sending the case to each furnisher that has yet to answer is an
    access event of the subject: the furnisher now receives the statement
    and the files that go to it."""
    subject = session.get_one(Subject, dispute.subject_id)
    files = recipients(session, dispute)
    for furnisher_id, unanswered in _furnishers(session, dispute).items():
        if unanswered:
            given = sum(1 for to in files.values() if any(i.id == furnisher_id for i in to))
            record_event(
                session,
                vault,
                subject,
                EventKind.DISPUTE_FORWARDED,
                channel="staff",
                actor_user_id=actor.id if actor else None,
                institution_id=furnisher_id,
                detail={"dispute_id": str(dispute.id), "evidence": given},
            )


def extend(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    actor: User,
    days: int,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> DisputeStep:
    """An officer extends the deadline; the reason is a step the subject sees."""
    check_version(dispute, expected_version)
    if not dispute.is_open:
        raise IllegalTransition(N_("A closed dispute has no deadline to extend."))
    if not Role(actor.role).is_staff:
        raise DisputeError(N_("Only an officer can extend a deadline."))
    note = _clean_note(reason)
    try:
        clock = clock_of(dispute).extend(days, note or "")
    except DeadlineError as exc:
        raise DisputeError(exc.message, **exc.params) from None
    dispute.due_on, dispute.extended_days = clock.due_on, clock.extended_days
    flush_dispute(session, dispute)
    return write_step(
        session,
        vault,
        dispute,
        StepKind.EXTENDED,
        actor,
        note,
        {"days": days, "due_on": dispute.due_on.isoformat()},
        now=now,
        touch=False,
    )


__all__ = [
    "DisputeError",
    "IllegalTransition",
    "Regime",
    "StaleDispute",
    "TRANSITIONS",
    "advance",
    "allowed",
    "clock_of",
    "days_left",
    "extend",
    "touch",
    "write_step",
]
