"""Institutions that furnish and query records, and their API keys. An
institution's name is public; its contact person is personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, new_id, str_enum, utcnow


class InstitutionKind(StrEnum):
    BANK = "bank"
    LENDER = "lender"
    COURT = "court"
    TAX_BUREAU = "tax_bureau"
    REGULATOR = "regulator"
    UTILITY = "utility"
    EMPLOYER = "employer"


class ApiScope(StrEnum):
    FURNISH = "furnish"
    QUERY = "query"


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InstitutionKind] = mapped_column(str_enum(InstitutionKind))
    allowed_purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The record categories it may furnish; None: any (institutions created
    # before the operator console could set it).
    allowed_categories: Mapped[list[str] | None] = mapped_column(JSON)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), unique=True)
    contact_name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    contact_email_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The hours it declared it queries in (local time, from inclusive, until
    # exclusive; until < from spans midnight); none declared: any hour.
    query_hours_from: Mapped[int | None] = mapped_column(SmallInteger)
    query_hours_until: Mapped[int | None] = mapped_column(SmallInteger)
    # Set by a supervisor: its queries are refused (the reason shown to its
    # API) until lifted. Read with the API key, in the same statement.
    suspended_at: Mapped[datetime | None]
    suspended_reason: Mapped[str | None] = mapped_column(Text)

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="institution")


class ApiKey(Base):
    """`key_id` is the public half of the bearer token; only a SHA-256 of the
    secret half is kept (it is 256 random bits, so no slow hash is needed)."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship(back_populates="api_keys")


class IdempotentRequest(Base):
    """An API POST sent with an Idempotency-Key, and the answer it got: a
    retry with the same key is answered from here and writes nothing. Kept
    for a day (the worker removes older ones). The answers of the POSTs
    hold ids, versions and dates, no personal data."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("institution_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of method, path and body
    status: Mapped[int | None]
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InstitutionSuspension(Base):
    """The oversight history of an institution, with who and why: every
    suspension of its querying and its lifting, and every change of its
    declared query hours (rows are only added)."""

    __tablename__ = "institution_suspensions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # "suspended", "lifted" or "hours"
    reason: Mapped[str] = mapped_column(Text)
    actor_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
