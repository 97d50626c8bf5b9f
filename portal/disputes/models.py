"""Disputes, the records they cover, their timeline and their evidence.
Statements, notes and evidence files are sealed under the subject's data
key; status, reason, regime and dates stay in clear for the queue."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, false
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
    CREDIT_REPAIR = "credit_repair"  # a firm's application, not an objection


class DisputeKind(StrEnum):
    OBJECTION = "objection"  # the record (or an access) is wrong
    CREDIT_REPAIR = "credit_repair"  # end the publicity of a rectified penalty


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
    REPAIRED = "repaired"  # credit repair approved: publicity ended
    REPAIR_REFUSED = "repair_refused"


# What each kind of case may end with.
OUTCOMES: dict[DisputeKind, tuple[DisputeOutcome, ...]] = {
    DisputeKind.OBJECTION: (
        DisputeOutcome.CORRECTED,
        DisputeOutcome.DELETED,
        DisputeOutcome.VERIFIED_ACCURATE,
        DisputeOutcome.UNVERIFIABLE,
    ),
    DisputeKind.CREDIT_REPAIR: (DisputeOutcome.REPAIRED, DisputeOutcome.REPAIR_REFUSED),
}


class Regime(StrEnum):
    CN_20_DAYS = "cn_20_days"  # Regulation on Credit Investigation art. 25
    FCRA_30_DAYS = "fcra_30_days"  # 15 U.S.C. 1681i(a)(1)
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
    ASSIGNED = "assigned"
    RELEASED = "released"  # back to the queue: its officer declared a conflict
    FURNISHER_ANSWERED = "furnisher_answered"
    STATEMENT_ADDED = "statement_added"


class Answer(StrEnum):
    """A furnisher's answer to a dispute of one of its records."""

    VERIFIED_ACCURATE = "verified_accurate"
    CORRECTED = "corrected"
    CANNOT_VERIFY = "cannot_verify"


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    filed_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[DisputeKind] = mapped_column(str_enum(DisputeKind, 16), default=DisputeKind.OBJECTION)
    reason: Mapped[DisputeReason] = mapped_column(str_enum(DisputeReason))
    statement_ct: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[DisputeStatus] = mapped_column(str_enum(DisputeStatus), index=True, default=DisputeStatus.SUBMITTED)
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
    steps: Mapped[list[DisputeStep]] = relationship(
        back_populates="dispute", order_by="DisputeStep.at", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="dispute", order_by="Evidence.created_at", cascade="all, delete-orphan"
    )

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
    # The decision for this record when it differs from the case's (None: the case's).
    outcome: Mapped[DisputeOutcome | None] = mapped_column(str_enum(DisputeOutcome))

    dispute: Mapped[Dispute] = relationship(back_populates="items")

    def decided(self, dispute: Dispute) -> DisputeOutcome | None:
        """This record's decision: its own, else the case's."""
        return self.outcome or dispute.outcome


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
    `evidence.content.<id>`), stored under a name the server chose; the
    name it was uploaded with is sealed beside it (`name_ct`; None for files
    kept before names were)."""

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
    # What the disarm removed before the file was stored (English, marked for
    # the catalog; shown translated): JavaScript, embedded files, EXIF ...
    removed: Mapped[list[str]] = mapped_column(JSON, default=list)
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    dispute: Mapped[Dispute] = relationship(back_populates="evidence")


class EvidenceShare(Base):
    """What the assigned officer decided about one file and one furnisher:
    sent to it (when the case was sent, or later), or held back from it
    (`held_back`, with the reason the subject reads, sealed under the
    subject's key)."""

    __tablename__ = "evidence_shares"
    __table_args__ = (UniqueConstraint("evidence_id", "institution_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    evidence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evidence.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    shared_by_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    shared_at: Mapped[datetime] = mapped_column(default=utcnow)
    held_back: Mapped[bool] = mapped_column(default=False, server_default=false())
    held_back_reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)


class FurnisherResponse(Base):
    """A furnisher's answer for one disputed record, citing what it
    reviewed (sealed). A correction is kept sealed as proposed and becomes
    the record's next version (`corrected_version`) only when the case is
    decided "corrected"."""

    __tablename__ = "dispute_responses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dispute_items.id"), unique=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    answer: Mapped[Answer] = mapped_column(str_enum(Answer))
    reviewed_ct: Mapped[bytes] = mapped_column(LargeBinary)
    correction_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    proposed_on_version: Mapped[int | None]  # the record's version the correction was written against
    corrected_version: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DisputeNote(Base):
    """A note between officers on a case; the subject does not see these."""

    __tablename__ = "dispute_notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    author_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    note_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutcomeLetter(Base):
    """The letter the subject receives when a case is decided: decision,
    reason, what changed, method of verification (sealed JSON)."""

    __tablename__ = "outcome_letters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), unique=True)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CorrectionNotice(Base):
    """Told to an institution that received a record in the look-back window
    before a decision changed it; the institution acknowledges through the
    API. The body (sealed under the subject's key) is what it is sent."""

    __tablename__ = "correction_notices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"), index=True)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_records.id"))
    # The disclosure (institution query) that sent the record.
    received_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_events.id"))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]


class RecordStatement(Base):
    """The subject's statement (at most 200 characters) beside a record a
    dispute verified as accurate, sent with it to every later recipient."""

    __tablename__ = "record_statements"
    __table_args__ = (UniqueConstraint("record_id", "dispute_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_records.id"), index=True)
    dispute_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("disputes.id"))
    text_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfficerConflict(Base):
    """A declared link between an officer and a subject (relative, employer,
    own firm): the officer cannot take that subject's cases."""

    __tablename__ = "officer_conflicts"
    __table_args__ = (UniqueConstraint("officer_user_id", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    officer_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"))
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
