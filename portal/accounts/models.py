"""Logins, their roles, sign-in sessions, activation codes and firm
delegations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
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
        # Those who act for others: staff, and a firm's representative and agents.
        return self.is_staff or self in {Role.FIRM_REPRESENTATIVE, Role.FIRM_AGENT}


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
    locale: Mapped[str | None] = mapped_column(String(8))
    # Staff accounts' lockout after repeated failures (see accounts.signin);
    # the TOTP step last accepted, so a code cannot be replayed.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    password_changed_at: Mapped[datetime | None]

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret_ct is not None


class AuthSession(Base):
    """A signed-in browser. The cookie carries a random token; only its hash
    is kept. Revoking the row signs that browser out."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    reauthenticated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[datetime | None]


class RegistrationRequest(Base):
    """Someone asked for an activation code: queued, so that the request
    does the same work whether or not the subject is on file (its time
    tells nothing), and the worker looks it up and sends the code. Holds
    keyed hashes of the identifier and name, never the values."""

    __tablename__ = "registration_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))  # a SubjectKind
    identifier_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    name_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    locale: Mapped[str] = mapped_column(String(8))  # the language of the e-mail
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PasswordResetRequest(Base):
    """Someone asked for a password reset link: queued, like a request for
    an activation code, so the answer takes as long whether or not the
    address has an account. Holds the address's keyed hash only."""

    __tablename__ = "password_reset_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    locale: Mapped[str] = mapped_column(String(8))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PasswordReset(Base):
    """A single-use link, valid for a short time; only the SHA-256 of its
    random token is kept."""

    __tablename__ = "password_resets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class CodePurpose(StrEnum):
    REGISTER = "register"  # open an account for the subject
    SECOND_FACTOR = "second_factor"  # turn off a lost second factor of the subject's account


class ActivationCode(Base):
    """A one-time code sent to the contact on file of a subject, proving that
    whoever uses it controls the subject's contact, not just knows its
    identifier: to register, or to turn off a lost second factor."""

    __tablename__ = "activation_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    purpose: Mapped[CodePurpose] = mapped_column(
        str_enum(CodePurpose, length=16), default=CodePurpose.REGISTER, server_default=CodePurpose.REGISTER.value
    )
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


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

    def is_live(self, today: date) -> bool:
        return self.revoked_at is None and today <= self.valid_until


class Invitation(Base):
    """A representative's invitation of an agent, by e-mail (sealed under the
    firm's data key). The link carries a random token; only its hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    firm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    invited_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    email_ct: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    valid_until: Mapped[date]
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    delegation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("firm_delegations.id"))


class SignInThrottle(Base):
    """Failed sign-ins with one e-mail address from one client address (both
    kept as keyed hashes): that client waits longer after each failure,
    while the owner signs in from elsewhere as usual. Counted whether or not
    the e-mail has an account, so a failure takes the same work either way."""

    __tablename__ = "sign_in_throttles"
    __table_args__ = (UniqueConstraint("email_bidx", "address_bidx"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))  # as users.email_bidx
    address_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None]
