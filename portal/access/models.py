"""Who may query a subject's report (consents and written authorisations),
and the complaints filed before complaints became disputes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, new_id, str_enum, utcnow


class ConsentKind(StrEnum):
    GRANT = "grant"  # given by the subject on the portal
    WRITTEN = "written_authorisation"  # a signed paper or PDF the institution registered


class Consent(Base):
    """Authority for one institution to query one subject's report for one
    purpose until a date. Revoking takes effect at once."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_subject_id_institution_id", "subject_id", "institution_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"))
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    kind: Mapped[ConsentKind] = mapped_column(str_enum(ConsentKind))
    valid_until: Mapped[date]
    granted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # For a written authorisation: SHA-256 of the signed document, and its
    # scope as the institution described it (sealed).
    document_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    scope_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    def is_live(self, today: date) -> bool:
        return self.revoked_at is None and today <= self.valid_until


class Complaint(Base):
    """ "I did not authorise this": reaches the compliance officers (and
    becomes a dispute once disputes exist)."""

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_events.id"))
    filed_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    statement_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
