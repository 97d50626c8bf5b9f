"""Deciding a case and what follows: the records change as decided, the
subject gets an outcome letter (in-app and by e-mail; a PDF on the portal),
and every institution that received a changed record in the look-back window
gets a correction notice. A furnisher that lets the deadline pass leaves its
records unverifiable. Services flush, never commit."""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import user_email
from portal.audit.disclosures import open_snapshot
from portal.audit.events import record_event
from portal.audit.models import AccessEvent, Disclosure, EventKind, Outcome
from portal.audit.purposes import Purpose
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes.lifecycle import DisputeError, advance, write_step
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
    RecordStatement,
    StepKind,
)
from portal.disputes.responses import proposed_correction
from portal.disputes.services import disputed_records
from portal.i18n import N_, Refusal
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.notifications.services import notify
from portal.records.documents import record_document
from portal.records.models import CreditRecord, Subject
from portal.records.services import (
    RecordDeleted,
    current_version,
    furnish,
    open_payload,
)

MAX_STATEMENT = 200
# How far back recipients of a changed record are told (FCRA 1681i(d)):
# six months, two years for employment screening.
LOOK_BACK_DAYS = 183
LOOK_BACK_EMPLOYMENT_DAYS = 730
NO_ANSWER_REASON = "The furnisher did not answer before the deadline."


class Change:
    NEW_VERSION = "new_version"
    DELETED = "deleted"
    MARKED_UNVERIFIABLE = "marked_unverifiable"
    PUBLICITY_ENDED = "publicity_ended"
    UNCHANGED = "unchanged"


class Method:
    """How the decision was verified."""
    FURNISHER_CORRECTED = "furnisher_corrected"
    FURNISHER_VERIFIED = "furnisher_verified"
    FURNISHER_COULD_NOT_VERIFY = "furnisher_could_not_verify"
    NO_ANSWER = "no_answer_by_deadline"
    OFFICER_REVIEW = "officer_review"


CHANGE_TEXT = {
    Change.NEW_VERSION: _l("%(reference)s: corrected; version %(to)s replaces version %(from)s, which is never "
                           "disclosed again."),
    Change.DELETED: _l("%(reference)s: deleted; it is no longer disclosed."),
    Change.MARKED_UNVERIFIABLE: _l("%(reference)s: marked as unverifiable wherever it is disclosed."),
    Change.PUBLICITY_ENDED: _l("%(reference)s: its publicity has ended; it is no longer disclosed."),
    Change.UNCHANGED: _l("%(reference)s: unchanged."),
}
METHOD_TEXT = {
    Method.FURNISHER_CORRECTED: _l("The furnisher reviewed the record and furnished a correction."),
    Method.FURNISHER_VERIFIED: _l("The furnisher reviewed the record and confirmed it as accurate."),
    Method.FURNISHER_COULD_NOT_VERIFY: _l("The furnisher reviewed the record and could not verify it."),
    Method.NO_ANSWER: _l("The furnisher did not answer before the deadline."),
    Method.OFFICER_REVIEW: _l("A compliance officer reviewed the case and the evidence."),
}
OUTCOME_NAMES = {
    DisputeOutcome.CORRECTED: _l("Corrected"),
    DisputeOutcome.DELETED: _l("Deleted"),
    DisputeOutcome.VERIFIED_ACCURATE: _l("Verified as accurate"),
    DisputeOutcome.UNVERIFIABLE: _l("Unverifiable, marked"),
    DisputeOutcome.REPAIRED: _l("Credit repair approved"),
    DisputeOutcome.REPAIR_REFUSED: _l("Credit repair refused"),
}


# -- the decision ------------------------------------------------------------------
def decide(session: Session, vault: Vault, dispute: Dispute, officer: User, outcome: DisputeOutcome | str,
           reason: str, expected_version: int | None = None, now: datetime | None = None,
           per_record: Mapping[uuid.UUID, DisputeOutcome | str] | None = None) -> OutcomeLetter:
    """The assigned officer resolves a case under review: `outcome` for
    every record, except those `per_record` decides otherwise. Corrected
    needs a correction the furnisher sent; deleted and unverifiable mark the
    records; an approved credit repair ends the penalty's publicity."""
    if not Role(officer.role).is_staff:
        raise DisputeError(N_("Only an officer can decide a case."))
    if dispute.assigned_officer_id != officer.id:
        raise DisputeError(N_("Take the case before deciding it."))
    return _resolve(session, vault, dispute, officer, outcome, reason, expected_version, now or utcnow(),
                    per_record or {})


def expire_overdue(session: Session, vault: Vault, today: date | None = None) -> list[Dispute]:
    """Cases still waiting for the furnisher after their deadline: the
    records nobody answered for are left unverifiable (marked, or deleted
    by policy) and the subject is told; a case whose furnishers have all
    answered goes back to the officer instead. Run daily (`portal disputes
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
            _resolve(session, vault, dispute, None, DisputeOutcome.UNVERIFIABLE, NO_ANSWER_REASON, None, utcnow())
        else:
            advance(session, vault, dispute, DisputeStatus.UNDER_REVIEW, None)
    return list(overdue)


def _unanswered(session: Session, dispute: Dispute) -> set[uuid.UUID]:
    answered = select(FurnisherResponse.item_id).where(FurnisherResponse.dispute_id == dispute.id)
    return set(session.scalars(select(DisputeItem.id).where(DisputeItem.dispute_id == dispute.id,
                                                            DisputeItem.id.not_in(answered))))


def _policy() -> str:
    """UNVERIFIABLE_POLICY: mark an unverifiable record (default) or delete it."""
    return current_app.config.get("UNVERIFIABLE_POLICY", "mark") if has_app_context() else "mark"


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
             per_record: Mapping[uuid.UUID, DisputeOutcome | str] | None = None) -> OutcomeLetter:
    outcome = _outcome(outcome, dispute)
    if not (reason or "").strip():
        raise DisputeError(N_("A decision needs a reason."))
    rows = session.execute(
        select(DisputeItem, CreditRecord).join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(DisputeItem.dispute_id == dispute.id).order_by(CreditRecord.created_at, CreditRecord.id)).all()
    answers = {r.item_id: r for r in session.scalars(
        select(FurnisherResponse).where(FurnisherResponse.dispute_id == dispute.id))}
    corrected = {item.id for item, _ in rows
                 if item.id in answers and answers[item.id].answer == Answer.CORRECTED}
    subject = session.get(Subject, dispute.subject_id)
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
    applies = _unanswered(session, dispute) if actor is None else {item.id for item, _ in rows}

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
        deletes = mine is DisputeOutcome.DELETED or (mine is DisputeOutcome.UNVERIFIABLE and _policy() == "delete")
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
        version = furnish(session, vault, session.get(Institution, response.institution_id), subject, proposed)
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
                           session.get(Institution, record.furnisher_id), bool(disputed_records(session, [record.id])),
                           statements_for(session, vault, subject, [record.id]).get(record.id, []))


def _tell_subject(session: Session, vault: Vault, subject: Subject, dispute: Dispute,
                  outcome: DisputeOutcome) -> None:
    """The outcome letter itself, in-app and by e-mail."""
    written = letter(session, vault, dispute)

    def compose() -> tuple[str, str]:
        from flask_babel import gettext as _

        lines = [_("Decision: %(outcome)s", outcome=written.outcome_name),
                 _("Reason: %(reason)s", reason=written.reason),
                 _("How it was verified: %(method)s", method=written.method),
                 _("What changed:"), *[f"- {line}" for line in written.changes],
                 "",
                 _("The letter (with a PDF copy) and the institutions that were told are on the dispute's page "
                   "on the portal.")]
        return _("Your dispute has been decided: %(outcome)s", outcome=written.outcome_name), "\n".join(lines)

    filer = session.get(User, dispute.filed_by_user_id)
    tell_subject(session, vault, subject, compose, also=[filer] if filer.role is Role.FIRM_AGENT else [])


def tell_subject(session: Session, vault: Vault, subject: Subject, compose, also=()) -> int:
    """In-app and by e-mail, in each holder's language, to everyone who holds
    the subject's own account (and to the users `also`, say the agent who
    filed); to the contact on file when nobody holds it. `compose()`
    returns (title, body) in the current locale."""
    from portal.i18n import DEFAULT

    holders = session.scalars(select(User).where(
        User.subject_id == subject.id, User.is_active.is_(True),
        User.role.in_([Role.PERSON, Role.FIRM_REPRESENTATIVE]))).all()
    extra = [u for u in also if u.is_active and u not in holders]
    for user in [*holders, *extra]:
        with force_locale(user.locale or DEFAULT):
            title, body = compose()
        notify(session, vault, key_id=user.data_key_id, user=user, email=user_email(session, vault, user),
               title=title, body=body)
    if not holders:
        contact = vault.cipher(session, subject.data_key_id).open_field(subject, "contact_email")
        if contact:
            with force_locale(DEFAULT):
                title, body = compose()
            notify(session, vault, key_id=subject.data_key_id, email=contact, title=title, body=body)
    return len(holders)


# -- what the subject sees afterwards -----------------------------------------------
@dataclass(frozen=True)
class LetterChange:
    record_id: uuid.UUID
    category: str
    reference: str
    change: str
    from_version: int | None
    to_version: int | None
    outcome: DisputeOutcome | None = None  # this record's decision (letters before: the case's)

    @property
    def text(self) -> str:
        return str(CHANGE_TEXT[self.change] % {"reference": self.reference, "from": self.from_version,
                                                "to": self.to_version})


@dataclass(frozen=True)
class Letter:
    dispute_id: uuid.UUID
    decided_at: datetime
    outcome: DisputeOutcome
    reason: str
    method_code: str
    change_rows: list[LetterChange]

    @property
    def outcomes(self) -> list[DisputeOutcome]:
        """The decisions taken, the case's first: more than one when records
        were decided differently."""
        out = [self.outcome]
        out += [c.outcome for c in self.change_rows if c.outcome is not None and c.outcome not in out]
        return out

    @property
    def outcome_name(self) -> str:
        return "; ".join(str(OUTCOME_NAMES[o]) for o in self.outcomes)

    @property
    def method(self) -> str:
        return str(METHOD_TEXT.get(self.method_code, self.method_code))

    @property
    def changes(self) -> list[str]:
        """A line per record; each names its decision when they differ."""
        if len(self.outcomes) == 1:
            return [c.text for c in self.change_rows]
        return [f"{OUTCOME_NAMES[c.outcome or self.outcome]}: {c.text}" for c in self.change_rows]

    @property
    def records(self) -> list[tuple[uuid.UUID, str, str]]:
        return [(c.record_id, c.category, c.reference) for c in self.change_rows]


def letter(session: Session, vault: Vault, dispute: Dispute) -> Letter | None:
    row = session.scalar(select(OutcomeLetter).where(OutcomeLetter.dispute_id == dispute.id))
    if row is None:
        return None
    subject = session.get(Subject, dispute.subject_id)
    body = json.loads(vault.cipher(session, subject.data_key_id).open_field(row, "body"))
    return Letter(dispute.id, datetime.fromisoformat(body["decided_at"]), DisputeOutcome(body["outcome"]),
                  body["reason"], body["method"],
                  [LetterChange(uuid.UUID(c["record_id"]), c["category"], c["reference"], c["change"],
                                c.get("from"), c.get("to"), DisputeOutcome(c["outcome"]) if c.get("outcome") else None)
                   for c in body["changes"]])


@dataclass(frozen=True)
class NoticeView:
    id: uuid.UUID
    institution: Institution
    record_id: uuid.UUID
    created_at: datetime
    acknowledged_at: datetime | None


def recipients(session: Session, dispute: Dispute) -> list[NoticeView]:
    """Who was told of the decision, and who has acknowledged."""
    rows = session.execute(select(CorrectionNotice, Institution)
                           .join(Institution, Institution.id == CorrectionNotice.institution_id)
                           .where(CorrectionNotice.dispute_id == dispute.id)
                           .order_by(Institution.code, CorrectionNotice.created_at)).all()
    return [NoticeView(n.id, i, n.record_id, n.created_at, n.acknowledged_at) for n, i in rows]


def add_statement(session: Session, vault: Vault, dispute: Dispute, record_id: uuid.UUID | str, by_user: User,
                  text: str) -> RecordStatement:
    """After "verified as accurate", the subject may put a statement of at
    most 200 characters beside each record of the case; every later
    recipient receives it with the record. The caller has checked that
    `by_user` may act for the subject."""
    verified = {i.record_id for i in session.scalars(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id))
                if i.decided(dispute) == DisputeOutcome.VERIFIED_ACCURATE}
    if not verified:
        raise Refusal(N_("A statement can be added only to records a dispute verified as accurate."))
    text = " ".join((text or "").split())
    if not text:
        raise Refusal(N_("Write the statement."))
    if len(text) > MAX_STATEMENT:
        raise Refusal(N_("A statement is at most %(max)d characters (%(given)d given)."), max=MAX_STATEMENT,
                      given=len(text))
    try:
        rid = record_id if isinstance(record_id, uuid.UUID) else uuid.UUID(str(record_id))
    except ValueError:
        raise Refusal(N_("Choose a record of this dispute.")) from None
    if session.scalar(select(DisputeItem.id).where(DisputeItem.dispute_id == dispute.id,
                                                   DisputeItem.record_id == rid)) is None:
        raise Refusal(N_("Choose a record of this dispute."))
    if rid not in verified:
        raise Refusal(N_("A statement can be added only to records a dispute verified as accurate."))
    if session.get(CreditRecord, rid).deleted_at is not None:
        raise Refusal(N_("This record has since been deleted; it is no longer disclosed."))
    if session.scalar(select(RecordStatement.id).where(RecordStatement.dispute_id == dispute.id,
                                                       RecordStatement.record_id == rid)) is not None:
        raise Refusal(N_("A statement has already been added to this record for this dispute."))
    subject = session.get(Subject, dispute.subject_id)
    row = RecordStatement(id=new_id(), record_id=rid, dispute_id=dispute.id, created_at=utcnow())
    vault.cipher(session, subject.data_key_id).seal_field(row, "text", text)
    session.add(row)
    session.flush()
    write_step(session, vault, dispute, StepKind.STATEMENT_ADDED, by_user, None, {"record_id": str(rid)})
    return row


def statements_for(session: Session, vault: Vault, subject: Subject,
                   record_ids) -> dict[uuid.UUID, list[str]]:
    """The subject's statements by record, oldest first (one query)."""
    ids = list(record_ids)
    if not ids:
        return {}
    cipher = vault.cipher(session, subject.data_key_id)
    out: dict[uuid.UUID, list[str]] = {}
    for row in session.scalars(select(RecordStatement).where(RecordStatement.record_id.in_(ids))
                               .order_by(RecordStatement.created_at)):
        out.setdefault(row.record_id, []).append(cipher.open_field(row, "text"))
    return out


__all__ = ["Letter", "NoticeView", "add_statement", "decide", "expire_overdue", "letter", "recipients",
           "statements_for", "tell_subject"]
