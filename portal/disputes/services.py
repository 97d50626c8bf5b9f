"""Filing disputes and the questions other areas ask of them. Services
flush, never commit: the request commits once, with the access events.
The deadline regime of a new dispute (setting DISPUTE_REGIME) is passed in."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit.models import AccessEvent, EventKind
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes import evidence as ev
from portal.disputes.deadlines import due_date
from portal.disputes.letter import letter, recipients
from portal.disputes.lifecycle import DisputeError, touch, write_step
from portal.disputes.models import (
    OPEN_STATUSES,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    Regime,
    StepKind,
)
from portal.i18n import N_, Refusal
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, Subject

MAX_STATEMENT = 2000


class DuplicateDispute(DisputeError):
    """An open dispute already covers this with the same reason."""

    def __init__(self, open_id: uuid.UUID) -> None:
        super().__init__(N_("An open dispute already covers this record for the same reason; add to that one instead."))
        self.open_id = open_id


def _ids(values: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    for value in values:
        try:
            rid = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            raise Refusal(N_("Choose records from your own report.")) from None
        if rid not in out:
            out.append(rid)
    return out


def file_dispute(
    session: Session,
    vault: Vault,
    subject: Subject,
    by_user: User,
    record_ids: Iterable[uuid.UUID | str],
    reason: DisputeReason | str,
    statement: str,
    files: Sequence[ev.Upload] = (),
    regime: Regime | str = Regime.CN_20_DAYS,
    today: date | None = None,
    access_event_id: uuid.UUID | None = None,
    kind: DisputeKind = DisputeKind.OBJECTION,
) -> Dispute:
    """File a dispute of one or several records of `subject` (or of one of
    its access events). Everything is checked, files included, before
    anything is written. The caller has checked that `by_user` may act for
    `subject`."""
    try:
        reason = DisputeReason(reason)
    except ValueError:
        raise Refusal(N_("Choose a reason from the list.")) from None
    if (reason is DisputeReason.CREDIT_REPAIR) != (kind is DisputeKind.CREDIT_REPAIR):
        raise Refusal(N_("Choose a reason from the list."))
    try:
        regime = Regime(regime)
    except ValueError:
        raise Refusal(N_("Unknown deadline regime.")) from None
    statement = (statement or "").strip()
    if not statement:
        raise Refusal(N_("Say what is wrong in the statement."))
    if len(statement) > MAX_STATEMENT:
        raise Refusal(
            N_("The statement is at most %(max)d characters (%(given)d given)."),
            max=MAX_STATEMENT,
            given=len(statement),
        )
    ids = _ids(record_ids)
    if not ids and access_event_id is None:
        raise Refusal(N_("Choose at least one record (or the access event) to dispute."))
    if ids:
        found = set(
            session.scalars(
                select(CreditRecord.id).where(CreditRecord.id.in_(ids), CreditRecord.subject_id == subject.id)
            )
        )
        if found != set(ids):  # unknown and other subjects' records alike
            raise Refusal(N_("Choose records from your own report."))
    if access_event_id is not None:
        event = session.get(AccessEvent, access_event_id)
        if event is None or event.subject_id != subject.id:
            raise Refusal(N_("Choose an access event from your own log."))
    checked = ev.check_files(files)

    # Filings of one subject take turns: a no-op write takes the subject's
    # row lock (PostgreSQL) or the write lock (SQLite) before the duplicate
    # check, so two filings at once cannot both pass it.
    session.execute(update(Subject).where(Subject.id == subject.id).values(locked_at=Subject.locked_at))
    duplicate = _open_duplicate(session, subject.id, ids, reason, access_event_id)
    if duplicate is not None:
        raise DuplicateDispute(duplicate)

    today = today or local_today()
    cipher = vault.cipher(session, subject.data_key_id)
    dispute = Dispute(
        id=new_id(),
        subject_id=subject.id,
        filed_by_user_id=by_user.id,
        kind=kind,
        reason=reason,
        status=DisputeStatus.SUBMITTED,
        regime=regime,
        filed_at=utcnow(),
        due_on=due_date(regime, today),
        paused_days=0,
        extended_days=0,
        access_event_id=access_event_id,
    )
    cipher.seal_field(dispute, "statement", statement)
    session.add(dispute)
    session.add_all(DisputeItem(id=new_id(), dispute_id=dispute.id, record_id=rid) for rid in ids)
    session.flush()
    stored = ev.store(session, cipher, dispute, checked, by_user.id)
    write_step(
        session,
        vault,
        dispute,
        StepKind.FILED,
        by_user,
        None,
        {
            "reason": reason.value,
            "regime": regime.value,
            "due_on": dispute.due_on.isoformat(),
            "records": [str(r) for r in ids],
            "evidence": len(stored),
            "access_event_id": None if access_event_id is None else str(access_event_id),
        },
        kind=EventKind.DISPUTE_FILED,
        touch=False,
    )
    return dispute


def _open_duplicate(
    session: Session,
    subject_id: uuid.UUID,
    record_ids: list[uuid.UUID],
    reason: DisputeReason,
    access_event_id: uuid.UUID | None,
) -> uuid.UUID | None:
    base = select(Dispute.id).where(
        Dispute.subject_id == subject_id, Dispute.reason == reason, Dispute.status.in_(OPEN_STATUSES)
    )
    if record_ids:
        found = session.scalar(
            base.join(DisputeItem, DisputeItem.dispute_id == Dispute.id)
            .where(DisputeItem.record_id.in_(record_ids))
            .order_by(Dispute.filed_at)
            .limit(1)
        )
        if found is not None:
            return found
    if access_event_id is not None:
        return session.scalar(
            base.where(Dispute.access_event_id == access_event_id).order_by(Dispute.filed_at).limit(1)
        )
    return None


def add_evidence(
    session: Session, vault: Vault, dispute: Dispute, by_user: User, files: Sequence[ev.Upload], note: str | None = None
) -> list:
    """More files (five at most in all) and/or a note for an open dispute:
    one timeline step. The case's version moves first: of two replies at
    once, the second is stale (StaleDispute) rather than both passing the
    cap. Returns the files stored."""
    if not dispute.is_open:
        raise DisputeError(N_("This dispute is closed; no more files can be added."))
    ev.check_files(files, already=len(dispute.evidence))  # refused before anything is written
    if not files and note is None:
        return []
    touch(session, dispute)
    session.refresh(dispute, ["evidence"])
    checked = ev.check_files(files, already=len(dispute.evidence))
    subject = session.get_one(Subject, dispute.subject_id)
    stored = ev.store(session, vault.cipher(session, subject.data_key_id), dispute, checked, by_user.id)
    session.refresh(dispute, ["evidence"])
    write_step(
        session,
        vault,
        dispute,
        StepKind.EVIDENCE_ADDED,
        by_user,
        note,
        {"evidence": len(stored), "note": note is not None},
        touch=False,
    )
    return stored


def statement(session: Session, vault: Vault, dispute: Dispute) -> str:
    subject = session.get_one(Subject, dispute.subject_id)
    return vault.cipher(session, subject.data_key_id).open_text(dispute, "statement")


def is_disputed(session: Session, record_id: uuid.UUID) -> bool:
    """Whether an open dispute covers the record (the "under dispute"
    marker of reports and the API). A credit-repair application is not a
    dispute of the record's accuracy."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    DisputeItem.record_id == record_id,
                    DisputeItem.dispute_id == Dispute.id,
                    Dispute.status.in_(OPEN_STATUSES),
                    Dispute.kind == DisputeKind.OBJECTION,
                )
            )
        )
    )


def disputed_records(session: Session, record_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The records among `record_ids` that an open dispute covers (one query)."""
    ids = list(record_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(DisputeItem.record_id)
            .join(Dispute, Dispute.id == DisputeItem.dispute_id)
            .where(
                DisputeItem.record_id.in_(ids), Dispute.status.in_(OPEN_STATUSES), Dispute.kind == DisputeKind.OBJECTION
            )
        )
    )


def export_disputes(session: Session, vault: Vault, subject: Subject) -> list[dict]:
    """Every dispute of the subject as held, for the "everything held"
    download: statement, records, timeline with its notes, evidence
    (described, not the files), outcome letter and who was told.
    Officers' internal notes are not the subject's data and stay out."""
    cipher = vault.cipher(session, subject.data_key_id)
    out = []
    for d in session.scalars(select(Dispute).where(Dispute.subject_id == subject.id).order_by(Dispute.filed_at)):
        written = letter(session, vault, d)
        out.append(
            {
                "id": str(d.id),
                "kind": d.kind.value,
                "reason": d.reason.value,
                "status": d.status.value,
                "outcome": d.outcome.value if d.outcome else None,
                "regime": d.regime.value,
                "filed_at": d.filed_at.isoformat(),
                "due_on": d.due_on.isoformat(),
                "statement": cipher.open_field(d, "statement"),
                "records": [str(i.record_id) for i in d.items],
                "access_event_id": str(d.access_event_id) if d.access_event_id else None,
                "timeline": [
                    {
                        "at": s.at.isoformat(),
                        "step": s.step.value,
                        "note": cipher.open_field(s, "note"),
                        "by": _who(session, s),
                    }
                    for s in session.scalars(
                        select(DisputeStep).where(DisputeStep.dispute_id == d.id).order_by(DisputeStep.at)
                    )
                ],
                "evidence": [
                    {
                        "id": str(e.id),
                        "media_type": e.media_type,
                        "size": e.size,
                        "sha256": bytes(e.sha256).hex(),
                        "added_at": e.created_at.isoformat(),
                    }
                    for e in d.evidence
                ],
                "letter": None
                if written is None
                else {
                    "decided_at": written.decided_at.isoformat(),
                    "outcome": written.outcome.value,
                    "reason": written.reason,
                    "method": written.method_code,
                    "changes": [
                        {
                            "record_id": str(c.record_id),
                            "change": c.change,
                            "from_version": c.from_version,
                            "to_version": c.to_version,
                        }
                        for c in written.change_rows
                    ],
                },
                "told": [
                    {
                        "institution": n.institution.code,
                        "record_id": str(n.record_id),
                        "told_at": n.created_at.isoformat(),
                        "acknowledged_at": n.acknowledged_at.isoformat() if n.acknowledged_at else None,
                    }
                    for n in recipients(session, d)
                ],
            }
        )
    return out


def _who(session: Session, step: DisputeStep) -> str:
    """Who took a step, as the subject may know it: officers by role only."""
    if step.actor_user_id is not None:
        return "officer" if Role(session.get_one(User, step.actor_user_id).role).is_staff else "subject"
    event = session.get(AccessEvent, step.event_id) if step.event_id else None
    return "furnisher" if event is not None and event.institution_id else "portal"
