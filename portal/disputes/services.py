"""Filing disputes and the questions other areas ask of them. Services
flush, never commit: the request commits once, with the access events."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Iterable, Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from portal.access.models import AccessEvent, EventKind
from portal.accounts.models import User
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes import evidence as ev
from portal.disputes.deadlines import due_date
from portal.disputes.lifecycle import DisputeError, write_step
from portal.disputes.models import (OPEN_STATUSES, Dispute, DisputeItem, DisputeReason, DisputeStatus, Regime,
                                    StepKind)
from portal.records.models import CreditRecord, Subject

MAX_STATEMENT = 2000


class DuplicateDispute(DisputeError):
    """An open dispute already covers this with the same reason."""

    def __init__(self, open_id: uuid.UUID) -> None:
        super().__init__("An open dispute already covers this record for the same reason; "
                         "add to that one instead.")
        self.open_id = open_id


def _ids(values: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    for value in values:
        try:
            rid = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            raise ValueError("Choose records from your own report.") from None
        if rid not in out:
            out.append(rid)
    return out


def file_dispute(session: Session, vault: Vault, subject: Subject, by_user: User,
                 record_ids: Iterable[uuid.UUID | str], reason: DisputeReason | str, statement: str,
                 files: Sequence[ev.Upload] = (), regime: Regime | str = Regime.CN_20_DAYS,
                 today: date | None = None, access_event_id: uuid.UUID | None = None) -> Dispute:
    """File a dispute of one or several records of `subject` (or of one of
    its access events). Everything is checked, files included, before
    anything is written. The caller has checked that `by_user` may act for
    `subject`."""
    try:
        reason = DisputeReason(reason)
    except ValueError:
        raise ValueError("Choose a reason from the list.") from None
    try:
        regime = Regime(regime)
    except ValueError:
        raise ValueError("Unknown deadline regime.") from None
    statement = (statement or "").strip()
    if not statement:
        raise ValueError("Say what is wrong in the statement.")
    if len(statement) > MAX_STATEMENT:
        raise ValueError(f"The statement is at most {MAX_STATEMENT} characters ({len(statement)} given).")
    ids = _ids(record_ids)
    if not ids and access_event_id is None:
        raise ValueError("Choose at least one record (or the access event) to dispute.")
    if ids:
        found = set(session.scalars(select(CreditRecord.id).where(CreditRecord.id.in_(ids),
                                                                  CreditRecord.subject_id == subject.id)))
        if found != set(ids):  # unknown and other subjects' records alike
            raise ValueError("Choose records from your own report.")
    if access_event_id is not None:
        event = session.get(AccessEvent, access_event_id)
        if event is None or event.subject_id != subject.id:
            raise ValueError("Choose an access event from your own log.")
    checked = ev.check_files(files)

    duplicate = _open_duplicate(session, subject.id, ids, reason, access_event_id)
    if duplicate is not None:
        raise DuplicateDispute(duplicate)

    today = today or utcnow().date()
    cipher = vault.cipher(session, subject.data_key_id)
    dispute = Dispute(id=new_id(), subject_id=subject.id, filed_by_user_id=by_user.id, reason=reason,
                      status=DisputeStatus.SUBMITTED, regime=regime, filed_at=utcnow(),
                      due_on=due_date(regime, today), paused_days=0, extended_days=0,
                      access_event_id=access_event_id)
    cipher.seal_field(dispute, "statement", statement)
    session.add(dispute)
    session.add_all(DisputeItem(id=new_id(), dispute_id=dispute.id, record_id=rid) for rid in ids)
    session.flush()
    stored = ev.store(session, cipher, dispute, checked, by_user.id)
    write_step(session, vault, dispute, StepKind.FILED, by_user, None,
               {"reason": reason.value, "regime": regime.value, "due_on": dispute.due_on.isoformat(),
                "records": [str(r) for r in ids], "evidence": len(stored),
                "access_event_id": None if access_event_id is None else str(access_event_id)},
               kind=EventKind.DISPUTE_FILED)
    return dispute


def _open_duplicate(session: Session, subject_id: uuid.UUID, record_ids: list[uuid.UUID], reason: DisputeReason,
                    access_event_id: uuid.UUID | None) -> uuid.UUID | None:
    base = select(Dispute.id).where(Dispute.subject_id == subject_id, Dispute.reason == reason,
                                    Dispute.status.in_(OPEN_STATUSES))
    if record_ids:
        found = session.scalar(base.join(DisputeItem, DisputeItem.dispute_id == Dispute.id)
                               .where(DisputeItem.record_id.in_(record_ids)).order_by(Dispute.filed_at).limit(1))
        if found is not None:
            return found
    if access_event_id is not None:
        return session.scalar(base.where(Dispute.access_event_id == access_event_id)
                              .order_by(Dispute.filed_at).limit(1))
    return None


def add_evidence(session: Session, vault: Vault, dispute: Dispute, by_user: User,
                 files: Sequence[ev.Upload]) -> list:
    """More files for an open dispute (five at most in all)."""
    if not dispute.is_open:
        raise DisputeError("This dispute is closed; no more files can be added.")
    checked = ev.check_files(files, already=len(dispute.evidence))
    if not checked:
        return []
    subject = session.get(Subject, dispute.subject_id)
    stored = ev.store(session, vault.cipher(session, subject.data_key_id), dispute, checked, by_user.id)
    session.refresh(dispute, ["evidence"])
    write_step(session, vault, dispute, StepKind.EVIDENCE_ADDED, by_user, None, {"evidence": len(stored)})
    return stored


def statement(session: Session, vault: Vault, dispute: Dispute) -> str:
    subject = session.get(Subject, dispute.subject_id)
    return vault.cipher(session, subject.data_key_id).open_field(dispute, "statement")


def is_disputed(session: Session, record_id: uuid.UUID) -> bool:
    """Whether an open dispute covers the record (the "under dispute"
    marker of reports and the API)."""
    return bool(session.scalar(select(exists().where(
        DisputeItem.record_id == record_id, DisputeItem.dispute_id == Dispute.id,
        Dispute.status.in_(OPEN_STATUSES)))))


def disputed_records(session: Session, record_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The records among `record_ids` that an open dispute covers (one query)."""
    ids = list(record_ids)
    if not ids:
        return set()
    return set(session.scalars(select(DisputeItem.record_id).join(Dispute, Dispute.id == DisputeItem.dispute_id)
                               .where(DisputeItem.record_id.in_(ids), Dispute.status.in_(OPEN_STATUSES))))
