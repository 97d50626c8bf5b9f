"""Access events: every read of a subject's data and every change to it,
refused attempts included, written in the same transaction as the action.
What happened in detail is sealed under the subject's data key."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, new_id, str_enum, utcnow


class EventKind(StrEnum):
    SELF_QUERY = "self_query"              # the subject (or its agent) viewed the report
    INSTITUTION_QUERY = "institution_query"  # an institution asked for the report (served or refused)
    RECORD_FURNISHED = "record_furnished"  # a new record, or a new version of one
    CONSENT_GRANTED = "consent_granted"
    CONSENT_REVOKED = "consent_revoked"
    AUTHORISATION_REGISTERED = "authorisation_registered"  # a signed written authorisation
    LOCK_SET = "lock_set"
    LOCK_RELEASED = "lock_released"
    COMPLAINT_FILED = "complaint_filed"    # "I did not authorise this"
    EXPORT = "export"                      # ... or downloaded it
    REGISTRATION = "registration"          # an account was opened for the subject
    DELEGATION_GRANTED = "delegation_granted"
    DELEGATION_REVOKED = "delegation_revoked"
    INVITATION_SENT = "invitation_sent"
    INVITATION_CANCELLED = "invitation_cancelled"
    DISPUTE_FILED = "dispute_filed"        # a dispute (objection) was filed
    DISPUTE_STEP = "dispute_step"          # a step of a dispute: status change, extension, evidence
    CASE_VIEWED = "case_viewed"            # an officer opened a case about the subject
    IDENTITY_REVEALED = "identity_revealed"  # an officer unmasked the name and identifier, with a reason
    EVIDENCE_SENT = "evidence_sent"        # a furnisher fetched a dispute's evidence through the API
    DISPUTE_FORWARDED = "dispute_forwarded"  # an officer sent the dispute to a furnisher for an answer
    CORRECTION_NOTICE = "correction_notice"  # a recipient of a changed record was sent a notice


class Outcome(StrEnum):
    SERVED = "served"
    REFUSED = "refused"


class AccessEvent(Base):
    __tablename__ = "access_events"
    __table_args__ = (Index("ix_access_events_subject_id_occurred_at", "subject_id", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, 8))
    purpose: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # web, api, staff
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    # JSON: the actor's role, what was seen or changed, and the salt of the
    # log leaf (sealed, so a shredded subject's leaf can no longer be tied
    # to its content).
    detail_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # Its leaf in the transparency log, appended in the same transaction.
    log_index: Mapped[int | None] = mapped_column(unique=True)


class ConsentKind(StrEnum):
    GRANT = "grant"                            # given by the subject on the portal
    WRITTEN = "written_authorisation"          # a signed paper or PDF the institution registered


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


class Disclosure(Base):
    """Exactly what an institution received: the report as sent, sealed
    under the subject's key, and its SHA-256."""

    __tablename__ = "disclosures"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_events.id"), unique=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    snapshot_ct: Mapped[bytes] = mapped_column(LargeBinary)
    snapshot_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Complaint(Base):
    """"I did not authorise this": reaches the compliance officers (and
    becomes a dispute once disputes exist)."""

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_events.id"))
    filed_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    statement_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
