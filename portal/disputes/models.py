"""Disputes, the records they cover, their timeline and their evidence.
Statements, notes and evidence files are sealed under the subject's data
key; status, reason, regime and dates stay in clear for the queue."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, new_id, str_enum, utcnow


class DisputeReason(StrEnum):
    NOT_MINE = "not_mine"
    WRONG_AMOUNT = "wrong_amount"
    WRONG_DATES = "wrong_dates"
    PAID_OR_SETTLED = "paid_or_settled"
    IDENTITY_THEFT = "identity_theft"
    OUTDATED = "outdated"
    UNAUTHORISED_ACCESS = "unauthorised_access"
    OTHER = "other"


class DisputeStatus(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    UNDER_REVIEW = "under_review"
    WAITING_FOR_FURNISHER = "waiting_for_furnisher"
    WAITING_FOR_SUBJECT = "waiting_for_subject"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self not in CLOSED_STATUSES


CLOSED_STATUSES = frozenset({DisputeStatus.RESOLVED, DisputeStatus.WITHDRAWN})
OPEN_STATUSES = frozenset(set(DisputeStatus) - CLOSED_STATUSES)


class DisputeOutcome(StrEnum):
    CORRECTED = "corrected"
    DELETED = "deleted"
    VERIFIED_ACCURATE = "verified_accurate"
    UNVERIFIABLE = "unverifiable"


class Regime(StrEnum):
    CN_20_DAYS = "cn_20_days"        # Regulation on Credit Investigation art. 25
    FCRA_30_DAYS = "fcra_30_days"    # 15 U.S.C. 1681i(a)(1)
    GDPR_ONE_MONTH = "gdpr_one_month"  # GDPR art. 12(3)


class StepKind(StrEnum):
    """What a timeline entry records: a status reached, or another event."""
    FILED = "filed"
    ACKNOWLEDGED = "acknowledged"
    UNDER_REVIEW = "under_review"
    WAITING_FOR_FURNISHER = "waiting_for_furnisher"
    WAITING_FOR_SUBJECT = "waiting_for_subject"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    EXTENDED = "extended"
    EVIDENCE_ADDED = "evidence_added"


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    filed_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[DisputeReason] = mapped_column(str_enum(DisputeReason))
    statement_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[DisputeStatus] = mapped_column(str_enum(DisputeStatus), index=True,
                                                  default=DisputeStatus.SUBMITTED)
    outcome: Mapped[DisputeOutcome | None] = mapped_column(str_enum(DisputeOutcome))
    regime: Mapped[Regime] = mapped_column(str_enum(Regime), default=Regime.CN_20_DAYS)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The effective deadline: the regime's date plus the days paused (once
    # resumed) and the days of extensions.
    due_on: Mapped[date] = mapped_column(index=True)
    paused_since: Mapped[datetime | None]
    paused_days: Mapped[int] = mapped_column(default=0)
    extended_days: Mapped[int] = mapped_column(default=0)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    assigned_officer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A dispute of an access event ("I did not authorise this").
    access_event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("access_events.id"))

    items: Mapped[list[DisputeItem]] = relationship(back_populates="dispute", cascade="all, delete-orphan")
    steps: Mapped[list[DisputeStep]] = relationship(back_populates="dispute", order_by="DisputeStep.at",
                                                    cascade="all, delete-orphan")
    evidence: Mapped[list[Evidence]] = relationship(back_populates="dispute", order_by="Evidence.created_at",
                                                    cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def is_open(self) -> bool:
        return DisputeStatus(self.status).is_open


class DisputeItem(Base):
    """One record a dispute covers (all of the same subject)."""

    __tablename__ = "dispute_items"
    __table_args__ = (UniqueConstraint("dispute_id", "record_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"))
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_records.id"), index=True)

    dispute: Mapped[Dispute] = relationship(back_populates="items")


class DisputeStep(Base):
    """The timeline the subject sees: when, who, what, and a sealed note."""

    __tablename__ = "dispute_steps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    step: Mapped[StepKind] = mapped_column(str_enum(StepKind))
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The access event written with this step.
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("access_events.id"))

    dispute: Mapped[Dispute] = relationship(back_populates="steps")


class Evidence(Base):
    """A file sealed under the subject's data key (associated data
    `evidence.content.<id>`), under a name the server chose."""

    __tablename__ = "evidence"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    dispute: Mapped[Dispute] = relationship(back_populates="evidence")
