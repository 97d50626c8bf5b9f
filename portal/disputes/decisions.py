"""Deciding a case and what follows: the records change as decided, the
subject gets an outcome letter (in-app and by e-mail; a PDF on the portal:
`letter`), and every institution that received a changed record in the
look-back window gets a correction notice (`notices.send_notices`). A furnisher that lets the
deadline pass leaves its records unverifiable. Services flush, never
commit; the unverifiable policy (setting UNVERIFIABLE_POLICY) is passed in.

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
from portal.disputes.letter import Change, Letter, Method, NoticeView, letter, recipients, tell_outcome
from portal.disputes.lifecycle import DisputeError, advance
from portal.disputes.messages import tell_subject
from portal.disputes.models import (
    OUTCOMES,
    Answer,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    DisputeStatus,
    FurnisherResponse,
    OutcomeLetter,
)
from portal.disputes.names import OUTCOME_NAMES
from portal.disputes.notices import send_notices
from portal.disputes.responses import proposed_correction
from portal.disputes.statements import MAX_STATEMENT, add_statement, statements_for
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, Subject
from portal.records.services import RecordDeleted, current_version, furnish, open_payload

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
    per_record: Mapping[uuid.UUID, DisputeOutcome | str] | None = None,
    unverifiable_policy: str = DEFAULT_POLICY,
) -> OutcomeLetter:
    """The assigned officer resolves a case under review: `outcome` for
    every record, except those `per_record` decides otherwise. Corrected
    needs a correction the furnisher sent; deleted marks the records, and
    unverifiable marks them or deletes them (`unverifiable_policy`); an
    approved credit repair ends the penalty's publicity."""
    if not Role(officer.role).is_staff:
        raise DisputeError(N_("Only an officer can decide a case."))
    if dispute.assigned_officer_id != officer.id:
        raise DisputeError(N_("Take the case before deciding it."))
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


def expire_overdue(
    session: Session, vault: Vault, today: date | None = None, unverifiable_policy: str = DEFAULT_POLICY
) -> list[Dispute]:
    """Cases still waiting for the furnisher after their deadline: the
    records nobody answered for are left unverifiable (marked, or deleted
    under `unverifiable_policy`) and the subject is told; a case whose
    furnishers have all answered goes back to the officer instead. Run daily (`portal disputes
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


def _outcome(given: DisputeOutcome | str, dispute: Dispute) -> DisputeOutcome:
    try:
        outcome = DisputeOutcome(given)
    except ValueError:
        raise DisputeError(N_("Choose an outcome from the list.")) from None
    if outcome not in OUTCOMES[DisputeKind(dispute.kind)]:
        raise DisputeError(N_("This outcome does not apply to this kind of case."))
    return outcome


def _resolve(
    session: Session,
    vault: Vault,
    dispute: Dispute,
    actor: User | None,
    outcome: DisputeOutcome | str,
    reason: str,
    expected_version: int | None,
    now: datetime,
    per_record: Mapping[uuid.UUID, DisputeOutcome | str] | None = None,
    unverifiable_policy: str = DEFAULT_POLICY,
) -> OutcomeLetter:
    outcome = _outcome(outcome, dispute)
    if not (reason or "").strip():
        raise DisputeError(N_("A decision needs a reason."))
    rows = session.execute(
        select(DisputeItem, CreditRecord)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(DisputeItem.dispute_id == dispute.id)
        .order_by(CreditRecord.created_at, CreditRecord.id)
    ).all()
    answers = {
        r.item_id: r
        for r in session.scalars(select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id))
    }
    corrected = {
        item.id for item, _record in rows if item.id in answers and answers[item.id].answer == Answer.CORRECTED
    }
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    # The decision for each record: the case's, or the one chosen for it.
    own: dict[uuid.UUID, DisputeOutcome] = {}
    records = {record.id: (item, record) for item, record in rows}
    for record_id, given in (per_record or {}).items():
        if record_id not in records:
            raise DisputeError(N_("Choose a record of this dispute."))
        own[record_id] = _outcome(given, dispute)
        item, record = records[record_id]
        if own[record_id] is DisputeOutcome.CORRECTED and item.id not in corrected:
            raise DisputeError(
                N_("No correction has been furnished for %(reference)s: choose another outcome for it."),
                reference=_reference(session, cipher, record),
            )
    decided = {item.id: own.get(record.id, outcome) for item, record in rows}
    to_correct = {i for i, o in decided.items() if o is DisputeOutcome.CORRECTED}
    if to_correct and not to_correct & corrected:
        raise DisputeError(
            N_(
                "No correction has been furnished for this case: wait for the furnisher's answer, "
                "or choose another outcome."
            )
        )
    for item, record in rows:
        if item.id in to_correct & corrected and outdated(answers[item.id], record):
            raise DisputeError(
                N_(
                    "The furnisher has changed this record since it proposed its correction "
                    "(the record is at version %(now)d, the correction was written against "
                    "version %(then)d): choose another outcome."
                ),
                now=record.current_version,
                then=answers[item.id].proposed_on_version,
            )
    # When the deadline passed, only what nobody answered for is unverifiable.
    applies = _unanswered(session, dispute) if actor is None else {item.id for item, _record in rows}

    # The status moves first: a stale or illegal step changes nothing.
    advance(
        session,
        vault,
        dispute,
        DisputeStatus.RESOLVED,
        actor,
        note=reason,
        outcome=outcome,
        expected_version=expected_version,
        now=now,
    )
    changes: list[dict[str, Any]] = []
    changed_records: list[tuple[CreditRecord, DisputeOutcome]] = []
    for item, record in rows:
        mine = decided[item.id]
        if record.id in own:
            item.outcome = mine
        change: dict[str, Any] = {
            "record_id": str(record.id),
            "category": record.category.value,
            "reference": _reference(session, cipher, record),
            "outcome": mine.value,
        }
        versions = None
        if item.id in corrected:
            response = answers[item.id]
            if response.correction_ct is None and response.corrected_version:
                # Applied when it was sent, before corrections waited for the decision.
                versions = {"from": response.corrected_version - 1, "to": response.corrected_version}
            elif item.id not in applies or mine is DisputeOutcome.CORRECTED:
                # The correction takes effect now: the officer decided
                # "corrected", or the deadline passed and this record was
                # answered in time.
                versions = _apply_correction(session, vault, subject, cipher, dispute, record, response, actor)
            cipher.seal_field(response, "correction", None)  # applied (a version holds it) or not: it goes
        deletes = mine is DisputeOutcome.DELETED or (
            mine is DisputeOutcome.UNVERIFIABLE and unverifiable_policy == "delete"
        )
        if item.id in applies and deletes:
            record.deleted_at = now
            change["change"] = Change.DELETED
        elif item.id in applies and mine is DisputeOutcome.UNVERIFIABLE:
            record.unverifiable_since = now
            change["change"] = Change.MARKED_UNVERIFIABLE
        elif item.id in applies and mine is DisputeOutcome.REPAIRED:
            record.publicity_ended_at = now
            change["change"] = Change.PUBLICITY_ENDED
        elif versions:
            change["change"] = Change.NEW_VERSION
            change.update(versions)
        else:  # verified as accurate, repair refused, or nothing to apply
            change["change"] = Change.UNCHANGED
        if change["change"] != Change.UNCHANGED:
            changed_records.append((record, mine))
        changes.append(change)
    session.flush()

    body = {
        "dispute_id": str(dispute.id),
        "outcome": outcome.value,
        "reason": reason.strip(),
        "decided_at": now.isoformat(),
        "method": _method(set(decided.values()), actor, answers.values()),
        "changes": changes,
    }
    letter = OutcomeLetter(id=new_id(), dispute_id=dispute.id, created_at=now)
    cipher.seal_field(letter, "body", json.dumps(body, ensure_ascii=False, sort_keys=True))
    session.add(letter)
    session.flush()
    for record, mine in changed_records:
        send_notices(session, vault, subject, dispute, record, mine, body, now)
    tell_outcome(session, vault, subject, dispute, outcome)
    return letter


def outdated(response: FurnisherResponse, record: CreditRecord) -> bool:
    """A correction still waiting, written against an older version than
    the record's: applying it would undo what the furnisher sent since."""
    return (
        response.correction_ct is not None
        and response.proposed_on_version is not None
        and response.proposed_on_version != record.current_version
    )


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


def _reference(session: Session, cipher, record: CreditRecord) -> str:
    return str(open_payload(cipher, current_version(session, record)).get("reference", ""))


def _method(outcomes: set[DisputeOutcome], actor: User | None, answers) -> str:
    if actor is None:
        return Method.NO_ANSWER
    given = {Answer(a.answer) for a in answers}
    if DisputeOutcome.CORRECTED in outcomes:
        return Method.FURNISHER_CORRECTED
    if Answer.VERIFIED_ACCURATE in given:
        return Method.FURNISHER_VERIFIED
    if Answer.CANNOT_VERIFY in given:
        return Method.FURNISHER_COULD_NOT_VERIFY
    return Method.OFFICER_REVIEW


__all__ = [
    "DEFAULT_POLICY",
    "MAX_STATEMENT",
    "OUTCOME_NAMES",
    "Change",
    "Letter",
    "Method",
    "NoticeView",
    "add_statement",
    "decide",
    "expire_overdue",
    "letter",
    "outdated",
    "recipients",
    "statements_for",
    "tell_subject",
]
