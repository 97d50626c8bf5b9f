"""Deciding a case and what follows: the records change as decided, the
subject gets an outcome letter (in-app and by e-mail; a PDF on the portal:
`letter`), and every institution that received a changed record in the
look-back window gets a correction notice. A furnisher that lets the
deadline pass leaves its records unverifiable. Services flush, never
commit; the unverifiable policy (setting UNVERIFIABLE_POLICY) is passed in.

The letter, its names and the statements beside records are read through
this module too (`letter`, `recipients`, `add_statement`, ...)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit.disclosures import open_snapshot
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, Disclosure, EventKind, Outcome
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes.letter import Change, Letter, Method, NoticeView, letter, recipients
from portal.disputes.lifecycle import DisputeError, advance
from portal.disputes.messages import tell_subject
from portal.disputes.models import (
    OUTCOMES,
    Answer,
    CorrectionNotice,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    DisputeStatus,
    FurnisherResponse,
    OutcomeLetter,
)
from portal.disputes.names import OUTCOME_NAMES
from portal.disputes.responses import proposed_correction
from portal.disputes.services import disputed_records
from portal.disputes.statements import MAX_STATEMENT, add_statement, statements_for
from portal.i18n import N_
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.documents import record_document
from portal.records.models import CreditRecord, Subject
from portal.records.services import (
    RecordDeleted,
    current_version,
    furnish,
    open_payload,
)

# How far back recipients of a changed record are told (FCRA 1681i(d)):
# six months, two years for employment screening.
LOOK_BACK_DAYS = 183
LOOK_BACK_EMPLOYMENT_DAYS = 730
NO_ANSWER_REASON = "The furnisher did not answer before the deadline."
# UNVERIFIABLE_POLICY: a record nobody could verify is marked (the
# default), or deleted ("delete").
DEFAULT_POLICY = "mark"


# -- the decision ------------------------------------------------------------------
def decide(session: Session, vault: Vault, dispute: Dispute, officer: User, outcome: DisputeOutcome | str,
           reason: str, expected_version: int | None = None, now: datetime | None = None,
           per_record: Mapping[uuid.UUID, DisputeOutcome | str] | None = None,
           unverifiable_policy: str = DEFAULT_POLICY) -> OutcomeLetter:
    """The assigned officer resolves a case under review: `outcome` for
    every record, except those `per_record` decides otherwise. Corrected
    needs a correction the furnisher sent; deleted marks the records, and
    unverifiable marks them or deletes them (`unverifiable_policy`); an
    approved credit repair ends the penalty's publicity."""
    if not Role(officer.role).is_staff:
        raise DisputeError(N_("Only an officer can decide a case."))
    if dispute.assigned_officer_id != officer.id:
        raise DisputeError(N_("Take the case before deciding it."))
    return _resolve(session, vault, dispute, officer, outcome, reason, expected_version, now or utcnow(),
                    per_record or {}, unverifiable_policy)


def expire_overdue(session: Session, vault: Vault, today: date | None = None,
                   unverifiable_policy: str = DEFAULT_POLICY) -> list[Dispute]:
    """Cases still waiting for the furnisher after their deadline: the
    records nobody answered for are left unverifiable (marked, or deleted
    under `unverifiable_policy`) and the subject is told; a case whose
    furnishers have all answered goes back to the officer instead. Run daily (`portal disputes
    expire`). On PostgreSQL a case another transaction holds (an officer
    acting, another sweep) is skipped, not waited for: the next run takes
    it."""
    today = today or local_today()
    overdue = session.scalars(
        select(Dispute).join(Subject, Subject.id == Dispute.subject_id)
        .where(Dispute.status == DisputeStatus.WAITING_FOR_FURNISHER, Dispute.due_on < today,
               Subject.shredded_at.is_(None))
        .order_by(Dispute.due_on, Dispute.id).with_for_update(of=Dispute, skip_locked=True)).all()
    for dispute in overdue:
        if _unanswered(session, dispute):
            _resolve(session, vault, dispute, None, DisputeOutcome.UNVERIFIABLE, NO_ANSWER_REASON, None, utcnow(),
                     unverifiable_policy=unverifiable_policy)
        else:
            advance(session, vault, dispute, DisputeStatus.UNDER_REVIEW, None)
    return list(overdue)


def _unanswered(session: Session, dispute: Dispute) -> set[uuid.UUID]:
    answered = select(FurnisherResponse.item_id).where(FurnisherResponse.dispute_id == dispute.id)
    return set(session.scalars(select(DisputeItem.id).where(DisputeItem.dispute_id == dispute.id,
                                                            DisputeItem.id.not_in(answered))))


def _outcome(given: DisputeOutcome | str, dispute: Dispute) -> DisputeOutcome:
    try:
        outcome = DisputeOutcome(given)
    except ValueError:
        raise DisputeError(N_("Choose an outcome from the list.")) from None
    if outcome not in OUTCOMES[DisputeKind(dispute.kind)]:
        raise DisputeError(N_("This outcome does not apply to this kind of case."))
    return outcome


def _resolve(session: Session, vault: Vault, dispute: Dispute, actor: User | None, outcome: DisputeOutcome | str,
             reason: str, expected_version: int | None, now: datetime,
             per_record: Mapping[uuid.UUID, DisputeOutcome | str] | None = None,
             unverifiable_policy: str = DEFAULT_POLICY) -> OutcomeLetter:
    outcome = _outcome(outcome, dispute)
    if not (reason or "").strip():
        raise DisputeError(N_("A decision needs a reason."))
    rows = session.execute(
        select(DisputeItem, CreditRecord).join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(DisputeItem.dispute_id == dispute.id).order_by(CreditRecord.created_at, CreditRecord.id)).all()
    answers = {r.item_id: r for r in session.scalars(
        select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id))}
    corrected = {item.id for item, _record in rows
                 if item.id in answers and answers[item.id].answer == Answer.CORRECTED}
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
            raise DisputeError(N_("No correction has been furnished for %(reference)s: choose another outcome "
                                  "for it."), reference=_reference(session, cipher, record))
    decided = {item.id: own.get(record.id, outcome) for item, record in rows}
    to_correct = {i for i, o in decided.items() if o is DisputeOutcome.CORRECTED}
    if to_correct and not to_correct & corrected:
        raise DisputeError(N_("No correction has been furnished for this case: wait for the furnisher's answer, "
                              "or choose another outcome."))
    for item, record in rows:
        if item.id in to_correct & corrected and outdated(answers[item.id], record):
            raise DisputeError(N_("The furnisher has changed this record since it proposed its correction "
                                  "(the record is at version %(now)d, the correction was written against "
                                  "version %(then)d): choose another outcome."),
                               now=record.current_version, then=answers[item.id].proposed_on_version)
    # When the deadline passed, only what nobody answered for is unverifiable.
    applies = _unanswered(session, dispute) if actor is None else {item.id for item, _record in rows}

    # The status moves first: a stale or illegal step changes nothing.
    advance(session, vault, dispute, DisputeStatus.RESOLVED, actor, note=reason, outcome=outcome,
            expected_version=expected_version, now=now)
    changes: list[dict[str, Any]] = []
    changed_records: list[tuple[CreditRecord, DisputeOutcome]] = []
    for item, record in rows:
        mine = decided[item.id]
        if record.id in own:
            item.outcome = mine
        change: dict[str, Any] = {"record_id": str(record.id), "category": record.category.value,
                                  "reference": _reference(session, cipher, record), "outcome": mine.value}
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
        deletes = mine is DisputeOutcome.DELETED or (mine is DisputeOutcome.UNVERIFIABLE
                                                      and unverifiable_policy == "delete")
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

    body = {"dispute_id": str(dispute.id), "outcome": outcome.value, "reason": reason.strip(),
            "decided_at": now.isoformat(), "method": _method(set(decided.values()), actor, answers.values()),
            "changes": changes}
    letter = OutcomeLetter(id=new_id(), dispute_id=dispute.id, created_at=now)
    cipher.seal_field(letter, "body", json.dumps(body, ensure_ascii=False, sort_keys=True))
    session.add(letter)
    session.flush()
    for record, mine in changed_records:
        _send_notices(session, vault, subject, dispute, record, mine, body, now)
    _tell_subject(session, vault, subject, dispute, outcome)
    return letter


def outdated(response: FurnisherResponse, record: CreditRecord) -> bool:
    """A correction still waiting, written against an older version than
    the record's: applying it would undo what the furnisher sent since."""
    return (response.correction_ct is not None and response.proposed_on_version is not None
            and response.proposed_on_version != record.current_version)


def _apply_correction(session: Session, vault: Vault, subject: Subject, cipher, dispute: Dispute,
                      record: CreditRecord, response: FurnisherResponse, actor: User | None) -> dict[str, int] | None:
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
    record_event(session, vault, subject, EventKind.RECORD_FURNISHED, channel="staff",
                 actor_user_id=actor.id if actor else None, institution_id=response.institution_id,
                 detail={"record": str(record.id), "version": version.version, "category": record.category.value,
                         "dispute_id": str(dispute.id), "answer_id": str(response.id)})
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


# -- correction notices ----------------------------------------------------------
def _send_notices(session: Session, vault: Vault, subject: Subject, dispute: Dispute, record: CreditRecord,
                  outcome: DisputeOutcome, letter: dict[str, Any], now: datetime) -> list[CorrectionNotice]:
    """One notice per institution that received `record` in the look-back
    window (the latest such disclosure), found in what was actually sent."""
    since = now - timedelta(days=LOOK_BACK_EMPLOYMENT_DAYS)
    rows = session.execute(
        select(Disclosure, AccessEvent).join(AccessEvent, AccessEvent.id == Disclosure.event_id)
        .where(Disclosure.subject_id == subject.id, Disclosure.created_at >= since,
               AccessEvent.outcome == Outcome.SERVED)
        .order_by(Disclosure.created_at.desc())).all()
    told: dict[uuid.UUID, CorrectionNotice] = {}
    for disclosure, event in rows:
        window = LOOK_BACK_EMPLOYMENT_DAYS if event.purpose == Purpose.EMPLOYMENT_SCREENING else LOOK_BACK_DAYS
        if disclosure.institution_id in told or disclosure.created_at < now - timedelta(days=window):
            continue
        sent = json.loads(open_snapshot(session, vault, subject, disclosure))
        if not any(r.get("id") == str(record.id) for r in sent.get("records", [])):
            continue
        change = next(c for c in letter["changes"] if c["record_id"] == str(record.id))
        body = {"dispute_id": str(dispute.id), "record_id": str(record.id), "reference": change["reference"],
                "outcome": outcome.value, "decided_at": letter["decided_at"], "change": change["change"],
                "received_at": disclosure.created_at.isoformat(), "received_query_id": str(event.id),
                "record": _current(session, vault, subject, record)}
        notice = CorrectionNotice(id=new_id(), dispute_id=dispute.id, institution_id=disclosure.institution_id,
                                  record_id=record.id, received_event_id=event.id, created_at=now)
        vault.cipher(session, subject.data_key_id).seal_field(notice, "body",
                                                              json.dumps(body, ensure_ascii=False, sort_keys=True))
        session.add(notice)
        record_event(session, vault, subject, EventKind.CORRECTION_NOTICE, channel="staff",
                     institution_id=disclosure.institution_id,
                     detail={"dispute_id": str(dispute.id), "record_id": str(record.id), "notice_id": str(notice.id),
                             "outcome": outcome.value, "received_query_id": str(event.id)})
        told[disclosure.institution_id] = notice
    session.flush()
    return list(told.values())


def _current(session: Session, vault: Vault, subject: Subject, record: CreditRecord) -> dict[str, Any] | None:
    """The record as recipients may now see it; None once it is no longer
    disclosed."""
    if record.deleted_at is not None or record.publicity_ended_at is not None:
        return None
    return record_document(vault.cipher(session, subject.data_key_id), record, current_version(session, record),
                           session.get_one(Institution, record.furnisher_id),
                           bool(disputed_records(session, [record.id])),
                           statements_for(session, vault, subject, [record.id]).get(record.id, []))


def _tell_subject(session: Session, vault: Vault, subject: Subject, dispute: Dispute,
                  outcome: DisputeOutcome) -> None:
    """The outcome letter itself, in-app and by e-mail."""
    written = letter(session, vault, dispute)
    if written is None:  # `decide` writes the letter before it tells the subject
        raise LookupError(f"dispute {dispute.id} has no outcome letter to tell the subject")

    def compose() -> tuple[str, str]:
        lines = [_("Decision: %(outcome)s", outcome=written.outcome_name),
                 _("Reason: %(reason)s", reason=written.reason),
                 _("How it was verified: %(method)s", method=written.method),
                 _("What changed:"), *[f"- {line}" for line in written.changes],
                 "",
                 _("The letter (with a PDF copy) and the institutions that were told are on the dispute's page "
                   "on the portal.")]
        return _("Your dispute has been decided: %(outcome)s", outcome=written.outcome_name), "\n".join(lines)

    filer = session.get_one(User, dispute.filed_by_user_id)
    tell_subject(session, vault, subject, compose, also=[filer] if filer.role is Role.FIRM_AGENT else [])


__all__ = ["DEFAULT_POLICY", "MAX_STATEMENT", "OUTCOME_NAMES", "Change", "Letter", "Method",
           "NoticeView", "add_statement", "decide", "expire_overdue", "letter", "outdated", "recipients",
           "statements_for", "tell_subject"]
