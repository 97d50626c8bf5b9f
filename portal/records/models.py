"""Subjects and their credit records. Names, identifiers and record payloads
are sealed under the subject's data key (`*_ct` columns); what stays in clear
is what the portal must query on: kind, category, status, negative flag and
the dates that drive expiry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.audit.subjects import register_loader
from portal.db import Base, new_id, str_enum, utcnow


class SubjectKind(StrEnum):
    PERSON = "person"
    FIRM = "firm"


class Category(StrEnum):
    LOAN = "loan"
    CREDIT_CARD = "credit_card"
    GUARANTEE = "guarantee"
    TAX_ARREARS = "tax_arrears"
    COURT_JUDGMENT = "court_judgment"
    ADMINISTRATIVE_PENALTY = "administrative_penalty"
    DISHONEST_DEBTOR = "dishonest_debtor"
    UTILITY_ARREARS = "utility_arrears"


class RecordStatus(StrEnum):
    ACTIVE = "active"  # account open, paid as agreed
    OVERDUE = "overdue"  # payments missed
    SETTLED = "settled"  # paid off / arrears cleared
    CLOSED = "closed"  # closed in good standing
    WRITTEN_OFF = "written_off"  # lender gave up on collection
    IN_FORCE = "in_force"  # judgment, penalty or listing in effect
    LIFTED = "lifted"  # penalty or listing ended


class Subject(Base):
    __tablename__ = "subjects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[SubjectKind] = mapped_column(str_enum(SubjectKind, 8))
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), unique=True)
    # NULL once shredded, so the identifier can no longer be matched.
    identifier_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    identifier_ct: Mapped[bytes] = mapped_column(LargeBinary)
    name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # The e-mail on file, as furnished: where activation codes go.
    contact_email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    shredded_at: Mapped[datetime | None]
    # While set, institution queries are refused (court enforcement excepted).
    locked_at: Mapped[datetime | None]

    records: Mapped[list[CreditRecord]] = relationship(back_populates="subject")


class CreditRecord(Base):
    """One item about one subject from one furnisher; its content lives in
    versions, the newest being the one disclosed."""

    __tablename__ = "credit_records"
    __table_args__ = (UniqueConstraint("furnisher_id", "reference_bidx"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    furnisher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    category: Mapped[Category] = mapped_column(str_enum(Category))
    # The furnisher's own account or case reference, blind-indexed so a new
    # version finds its record.
    reference_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by dispute decisions: a deleted record is never disclosed again
    # (nor furnished again without a certification of accuracy); an
    # unverifiable one is disclosed marked so; a repaired penalty's
    # publicity has ended.
    deleted_at: Mapped[datetime | None]
    unverifiable_since: Mapped[datetime | None]
    publicity_ended_at: Mapped[datetime | None]

    subject: Mapped[Subject] = relationship(back_populates="records")
    versions: Mapped[list[RecordVersion]] = relationship(
        back_populates="record", order_by="RecordVersion.version", cascade="all, delete-orphan"
    )


class RecordVersion(Base):
    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("record_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_records.id"))
    version: Mapped[int]
    status: Mapped[RecordStatus] = mapped_column(str_enum(RecordStatus))
    is_negative: Mapped[bool]
    # When the behaviour ended (paid, settled, lifted); negative information
    # expires five years later. NULL while it goes on.
    ended_on: Mapped[date | None]
    expires_on: Mapped[date | None] = mapped_column(index=True)
    # JSON: reference, currency, amounts, dates, details (see records.payload).
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)
    furnished_at: Mapped[datetime] = mapped_column(default=utcnow)

    record: Mapped[CreditRecord] = relationship(back_populates="versions")


# Access events name their subject only by id; the audit loads it through this.
register_loader(lambda session, subject_id: session.get(Subject, subject_id))
