"""Notes between officers on a case: sealed under the subject's data key,
never shown to the subject, never a step of their timeline. Services
flush, never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.compliance import policy
from portal.compliance.policy import Act
from portal.compliance.staff import staff_names
from portal.crypto import Vault
from portal.db import new_id, utcnow
from portal.disputes.lifecycle import DisputeError
from portal.disputes.models import Dispute, DisputeNote
from portal.i18n import N_
from portal.records.models import Subject

MAX_NOTE = 2000


def add_note(
    session: Session, vault: Vault, dispute: Dispute, officer: User, text: str, expected_version: int | None = None
) -> DisputeNote:
    """A note by the officer holding the case."""
    policy.require(policy.act_refusal(officer, dispute, Act.NOTE, expected_version))
    text = (text or "").strip()
    if not text:
        raise DisputeError(N_("Write the note."))
    if len(text) > MAX_NOTE:
        raise DisputeError(N_("A note is at most %(max)d characters (%(given)d given)."), max=MAX_NOTE, given=len(text))
    subject = session.get_one(Subject, dispute.subject_id)
    note = DisputeNote(id=new_id(), dispute_id=dispute.id, author_user_id=officer.id, created_at=utcnow())
    vault.cipher(session, subject.data_key_id).seal_field(note, "note", text)
    session.add(note)
    session.flush()
    return note


@dataclass(frozen=True)
class NoteView:
    id: uuid.UUID
    author: str
    created_at: datetime
    text: str


def notes(session: Session, vault: Vault, dispute: Dispute) -> list[NoteView]:
    subject = session.get_one(Subject, dispute.subject_id)
    cipher = vault.cipher(session, subject.data_key_id)
    rows = session.scalars(
        select(DisputeNote).where(DisputeNote.dispute_id == dispute.id).order_by(DisputeNote.created_at, DisputeNote.id)
    ).all()
    names = staff_names(session, vault, {n.author_user_id for n in rows})
    return [NoteView(n.id, names.get(n.author_user_id, "—"), n.created_at, cipher.open_text(n, "note")) for n in rows]


__all__ = ["MAX_NOTE", "NoteView", "add_note", "notes"]
