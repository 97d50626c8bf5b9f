"""Access events: every read of a subject's data and every change to it,
refused attempts included, written in the same transaction as the action.
What happened in detail is sealed under the subject's data key."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, new_id, str_enum, utcnow


class EventKind(StrEnum):
    SELF_QUERY = "self_query"              # the subject (or its agent) viewed the report
    EXPORT = "export"                      # ... or downloaded it
    REGISTRATION = "registration"          # an account was opened for the subject
    DELEGATION_GRANTED = "delegation_granted"
    DELEGATION_REVOKED = "delegation_revoked"
    INVITATION_SENT = "invitation_sent"
    INVITATION_CANCELLED = "invitation_cancelled"


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
    # JSON: the actor's role, what was seen or changed.
    detail_ct: Mapped[bytes] = mapped_column(LargeBinary)
