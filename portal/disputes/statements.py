"""Statements beside records: after a dispute verified a record as
accurate, the subject may put a statement of at most 200 characters beside
it, once per record and dispute; every later recipient of the record
receives it. Services flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes.lifecycle import write_step
from portal.disputes.models import Dispute, DisputeItem, DisputeOutcome, RecordStatement, StepKind
from portal.i18n import N_, Refusal
from portal.records.models import CreditRecord, Subject

MAX_STATEMENT = 200


def add_statement(
    session: Session, vault: Vault, dispute: Dispute, record_id: uuid.UUID | str, by_user: User, text: str
) -> RecordStatement:
    """After "verified as accurate", the subject may put a statement of at
    most 200 characters beside each record of the case; every later
    recipient receives it with the record. The caller has checked that
    `by_user` may act for the subject."""
    verified = {
        i.record_id
        for i in session.scalars(select(DisputeItem).where(DisputeItem.dispute_id == dispute.id))
        if i.decided(dispute) == DisputeOutcome.VERIFIED_ACCURATE
    }
    if not verified:
        raise Refusal(N_("A statement can be added only to records a dispute verified as accurate."))
    text = " ".join((text or "").split())
    if not text:
        raise Refusal(N_("Write the statement."))
    if len(text) > MAX_STATEMENT:
        raise Refusal(
            N_("A statement is at most %(max)d characters (%(given)d given)."), max=MAX_STATEMENT, given=len(text)
        )
    try:
        rid = record_id if isinstance(record_id, uuid.UUID) else uuid.UUID(str(record_id))
    except ValueError:
        raise Refusal(N_("Choose a record of this dispute.")) from None
    if (
        session.scalar(select(DisputeItem.id).where(DisputeItem.dispute_id == dispute.id, DisputeItem.record_id == rid))
        is None
    ):
        raise Refusal(N_("Choose a record of this dispute."))
    if rid not in verified:
        raise Refusal(N_("A statement can be added only to records a dispute verified as accurate."))
    if session.get_one(CreditRecord, rid).deleted_at is not None:
        raise Refusal(N_("This record has since been deleted; it is no longer disclosed."))
    if (
        session.scalar(
            select(RecordStatement.id).where(RecordStatement.dispute_id == dispute.id, RecordStatement.record_id == rid)
        )
        is not None
    ):
        raise Refusal(N_("A statement has already been added to this record for this dispute."))
    subject = session.get_one(Subject, dispute.subject_id)
    row = RecordStatement(id=new_id(), record_id=rid, dispute_id=dispute.id, created_at=utcnow())
    vault.cipher(session, subject.data_key_id).seal_field(row, "text", text)
    session.add(row)
    session.flush()
    write_step(session, vault, dispute, StepKind.STATEMENT_ADDED, by_user, None, {"record_id": str(rid)})
    return row


def statements_for(
    session: Session, vault: Vault, subject: Subject, record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The subject's statements by record, oldest first (one query)."""
    ids = list(record_ids)
    if not ids:
        return {}
    cipher = vault.cipher(session, subject.data_key_id)
    out: dict[uuid.UUID, list[str]] = {}
    for row in session.scalars(
        select(RecordStatement).where(RecordStatement.record_id.in_(ids)).order_by(RecordStatement.created_at)
    ):
        out.setdefault(row.record_id, []).append(cipher.open_text(row, "text"))
    return out


__all__ = ["MAX_STATEMENT", "add_statement", "statements_for"]
