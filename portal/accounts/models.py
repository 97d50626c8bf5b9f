"""Logins and their roles. Sign-in arrives with the accounts issue; the
schema is here so subjects, firms and staff can be linked from the start."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, new_id, str_enum, utcnow


class Role(StrEnum):
    PERSON = "person"
    FIRM_REPRESENTATIVE = "firm_representative"
    FIRM_AGENT = "firm_agent"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"

    @property
    def is_staff(self) -> bool:
        return self in {Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR}

    @property
    def needs_second_factor(self) -> bool:
        return self.is_staff or self is Role.FIRM_REPRESENTATIVE


class User(Base):
    """E-mail, display name and TOTP secret are sealed under the user's own
    data key. `subject_id` is the person themself, or the firm a
    representative acts for; agents reach firms through delegations."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), unique=True)
    email_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    email_ct: Mapped[bytes] = mapped_column(LargeBinary)
    display_name_ct: Mapped[bytes] = mapped_column(LargeBinary)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class DelegationScope(StrEnum):
    VIEW_REPORT = "view_report"
    FILE_DISPUTES = "file_disputes"


class FirmDelegation(Base):
    __tablename__ = "firm_delegations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    firm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    granted_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    valid_until: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
