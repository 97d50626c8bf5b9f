""" "I did not authorise this" complaints filed before disputes existed.
New ones are disputes of the access event (reason unauthorised_access,
`portal.disputes.services.file_dispute`); the complaints already on file
stay readable here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access.models import Complaint
from portal.audit.models import AccessEvent
from portal.crypto import Vault
from portal.records.models import Subject


def complained(session: Session, event: AccessEvent) -> bool:
    return session.scalar(select(Complaint.id).where(Complaint.event_id == event.id)) is not None


def complaints_of(session: Session, subject: Subject) -> list[Complaint]:
    return list(
        session.scalars(select(Complaint).where(Complaint.subject_id == subject.id).order_by(Complaint.created_at))
    )


def statement(session: Session, vault: Vault, complaint: Complaint) -> str:
    subject = session.get_one(Subject, complaint.subject_id)
    return vault.cipher(session, subject.data_key_id).open_text(complaint, "statement")
