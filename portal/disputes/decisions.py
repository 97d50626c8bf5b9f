"""Deciding a case and what follows: the records change as decided, the
subject gets an outcome letter (in-app and by e-mail; a PDF on the portal:
`letter`), and every institution that received a changed record in the
look-back window gets a correction notice (`notices.send_notices`). A furnisher that lets the
deadline pass leaves its records unverifiable. Services flush, never
commit; the unverifiable policy (setting UNVERIFIABLE_POLICY) is passed in.

Each record's decision must agree with its furnisher's answer or say why
it departs from it (`grounds`); a decision is planned, and can be
previewed, before anything is written (`plan`, `preview`).

The letter, its names and the statements beside records are read through
this module too (`letter`, `recipients`, `add_statement`, ...)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit.events import record_event
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes import plan as plans
from portal.disputes.grounds import (
    FOLLOWS,
    MAX_DEPARTURE,
    RULES,
    RecordDecision,
    RecordRefused,
    StartingPoint,
    Verdict,
    basis,
    outdated,
    starting_points,
    suggested,
    verdict,
)
from portal.disputes.letter import Change, Letter, Method, NoticeView, letter, letter_of, recipients, tell_outcome
from portal.disputes.letter_mail import letter_attachment
from portal.disputes.lifecycle import DisputeError, advance, allowed
from portal.disputes.messages import tell_subject
from portal.disputes.models import (
    Answer,
    Dispute,
    DisputeItem,
    DisputeOutcome,
    DisputeStatus,
    FurnisherResponse,
    OutcomeLetter,
)
from portal.disputes.names import OUTCOME_NAMES
from portal.disputes.notices import send_notices
from portal.disputes.responses import proposed_correction
from portal.disputes.statements import MAX_STATEMENT, add_statement, statements_for
from portal.disputes.versions import check_version
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, Subject
from portal.records.services import RecordDeleted, furnish

NO_ANSWER_REASON = "The furnisher did not answer before the deadline."
# UNVERIFIABLE_POLICY: a record nobody could verify is marked (the
# default), or deleted ("delete").
DEFAULT_POLICY = "mark"


# -- the decision ------------------------------------------------------------------
def decide(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    officer: User,
    outcome: DisputeOutcome | str,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
    per_record: Mapping[uuid.UUID, DisputeOutcome | str | RecordDecision] | None = None,
    unverifiable_policy: str = DEFAULT_POLICY,
) -> OutcomeLetter:
    """The assigned officer resolves a case under review: `outcome` for
    every record, except those `per_record` decides otherwise (with the
    reason for departing from the furnisher's answer: `RecordDecision`).
    Each record's decision must agree with its furnisher's answer (`RULES`)
    or say why it departs from it. Corrected needs a correction the
    furnisher sent; deleted marks the records, and unverifiable marks them
    or deletes them (`unverifiable_policy`); an approved credit repair ends
    the penalty's publicity."""
    _check_officer(dispute, officer)
    return _resolve(
        session,
        vault,
        dispute,
        officer,
        outcome,
        reason,
        expected_version,
        now or utcnow(),
        per_record or {},
        unverifiable_policy,
    )


def preview(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    officer: User,
    outcome: DisputeOutcome | str,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
    per_record: Mapping[uuid.UUID, DisputeOutcome | str | RecordDecision] | None = None,
    unverifiable_policy: str = DEFAULT_POLICY,
) -> Letter:
    """The outcome letter `decide` would write with the same arguments, as
    the subject would read it, writing nothing: refused exactly as `decide`
    refuses (a stale version included), so the officer checks the decision
    before it is final."""
    _check_officer(dispute, officer)
    check_version(dispute, expected_version)
    if not allowed(dispute.status, DisputeStatus.RESOLVED):
        raise DisputeError(N_("This case cannot be decided now: it is not under review."))
    planned = plans.plan(session, vault, dispute, officer, outcome, reason, per_record or {})
    changes = [plans.change(line, plans.predicted_versions(line), unverifiable_policy) for line in planned.lines]
    return letter_of(dispute.id, plans.body(dispute, planned, now or utcnow(), changes))


def _check_officer(dispute: Dispute, officer: User) -> None:
    if not Role(officer.role).is_staff:
        raise DisputeError(N_("Only an officer can decide a case."))
    if dispute.assigned_officer_id != officer.id:
        raise DisputeError(N_("Take the case before deciding it."))


def expire_overdue(
    session: Session, vault: Vault, today: date | None = None, unverifiable_policy: str = DEFAULT_POLICY
) -> list[Dispute]:
    """Cases still waiting for the furnisher after their deadline: the
    records nobody answered for are left unverifiable (marked, or deleted
    under `unverifiable_policy`), those answered in time are decided as
    answered, and the subject is told; a case whose furnishers have all
    answered goes back to the officer instead. Run daily (`portal disputes
    expire`). On PostgreSQL a case another transaction holds (an officer
    acting, another sweep) is skipped, not waited for: the next run takes
    it."""
    today = today or local_today()
    overdue = session.scalars(
        select(Dispute)
        .join(Subject, Subject.id == Dispute.subject_id)
        .where(
            Dispute.status == DisputeStatus.WAITING_FOR_FURNISHER, Dispute.due_on < today, Subject.shredded_at.is_(None)
        )
        .order_by(Dispute.due_on, Dispute.id)
        .with_for_update(of=Dispute, skip_locked=True)
    ).all()
    for dispute in overdue:
        if _unanswered(session, dispute):
            _resolve(
                session,
                vault,
                dispute,
                None,
                DisputeOutcome.UNVERIFIABLE,
                NO_ANSWER_REASON,
                None,
                utcnow(),
                unverifiable_policy=unverifiable_policy,
            )
        else:
            advance(session, vault, dispute, DisputeStatus.UNDER_REVIEW, None)
    return list(overdue)


def _unanswered(session: Session, dispute: Dispute) -> set[uuid.UUID]:
    answered = select(FurnisherResponse.item_id).where(FurnisherResponse.dispute_id == dispute.id)
    return set(
        session.scalars(
            select(DisputeItem.id).where(DisputeItem.dispute_id == dispute.id, DisputeItem.id.not_in(answered))
        )
    )


def _resolve(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    actor: User | None,
    outcome: DisputeOutcome | str,
    reason: str,
    expected_version: int | None,
    now: datetime,
    per_record: Mapping[uuid.UUID, DisputeOutcome | str | RecordDecision] | None = None,
    unverifiable_policy: str = DEFAULT_POLICY,
) -> OutcomeLetter:
    plan = plans.plan(session, vault, dispute, actor, outcome, reason, per_record or {})
    subject, cipher = plan.subject, plan.cipher
    # The status moves first: a stale or illegal step changes nothing.
    advance(
        session,
        vault,
        dispute,
        DisputeStatus.RESOLVED,
        actor,
        note=plan.reason,
        outcome=plan.outcome,
        expected_version=expected_version,
        now=now,
    )
    changes: list[dict[str, Any]] = []
    changed_records: list[tuple[CreditRecord, DisputeOutcome]] = []
    for line in plan.lines:
        item, record, response, mine = line.item, line.record, line.response, line.outcome
        if mine is not plan.outcome:
            item.outcome = mine
        versions = None
        if response is not None and Answer(response.answer) is Answer.CORRECTED:
            if response.correction_ct is None and response.corrected_version:
                # Applied when it was sent, before corrections waited for the decision.
                versions = {"from": response.corrected_version - 1, "to": response.corrected_version}
            elif mine is DisputeOutcome.CORRECTED:
                versions = _apply_correction(session, vault, subject, cipher, dispute, record, response, actor)
            cipher.seal_field(response, "correction", None)  # applied (a version holds it) or not: it goes
        change = plans.change(line, versions, unverifiable_policy)
        if change["change"] == Change.DELETED:
            record.deleted_at = now
        elif change["change"] == Change.MARKED_UNVERIFIABLE:
            record.unverifiable_since = now
        elif change["change"] == Change.PUBLICITY_ENDED:
            record.publicity_ended_at = now
        if change["change"] != Change.UNCHANGED:
            changed_records.append((record, mine))
        changes.append(change)
    session.flush()

    body = plans.body(dispute, plan, now, changes)
    letter = OutcomeLetter(id=new_id(), dispute_id=dispute.id, created_at=now)
    cipher.seal_field(letter, "body", json.dumps(body, ensure_ascii=False, sort_keys=True))
    session.add(letter)
    session.flush()
    for record, mine in changed_records:
        send_notices(session, vault, subject, dispute, record, mine, body, now)
    tell_outcome(session, vault, subject, dispute, plan.outcome, letter_attachment(session, vault, subject, dispute))
    return letter


def _apply_correction(
    session: Session,
    vault: Vault,
    subject: Subject,
    cipher,
    dispute: Dispute,
    record: CreditRecord,
    response: FurnisherResponse,
    actor: User | None,
) -> dict[str, int] | None:
    """Furnish the correction the furnisher proposed: the record's next
    version, an entry of the subject's access log. Returns {"from", "to"}
    versions, or None when nothing changed (the record was deleted or
    furnished again since)."""
    proposed = proposed_correction(cipher, response)
    if proposed is None or outdated(response, record):
        return None
    before = record.current_version
    try:
        version = furnish(session, vault, session.get_one(Institution, response.institution_id), subject, proposed)
    except RecordDeleted:
        return None
    response.corrected_version = version.version
    record_event(
        session,
        vault,
        subject,
        EventKind.RECORD_FURNISHED,
        channel="staff",
        actor_user_id=actor.id if actor else None,
        institution_id=response.institution_id,
        detail={
            "record": str(record.id),
            "version": version.version,
            "category": record.category.value,
            "dispute_id": str(dispute.id),
            "answer_id": str(response.id),
        },
    )
    return {"from": before, "to": version.version}


__all__ = [
    "DEFAULT_POLICY",
    "FOLLOWS",
    "MAX_DEPARTURE",
    "MAX_STATEMENT",
    "OUTCOME_NAMES",
    "RULES",
    "Change",
    "Letter",
    "Method",
    "NoticeView",
    "RecordDecision",
    "RecordRefused",
    "StartingPoint",
    "Verdict",
    "add_statement",
    "basis",
    "decide",
    "expire_overdue",
    "letter",
    "outdated",
    "preview",
    "recipients",
    "starting_points",
    "statements_for",
    "suggested",
    "tell_subject",
    "verdict",
]
