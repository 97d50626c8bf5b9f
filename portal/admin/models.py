"""Proposals under the two-person rule, and invitations of staff."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.accounts.models import Role
from portal.db import Base, new_id, str_enum, utcnow


class ProposalAction(StrEnum):
    GRANT_ADMINISTRATOR = "grant_administrator"  # a member of staff (or an invitee) becomes an administrator
    ROTATE_KEK = "rotate_kek"  # a new key-encryption key; the worker re-wraps every data key under it
    ERASE_SUBJECT = "erase_subject"  # crypto-shred a subject's file


class ProposalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Proposal(Base):
    """A dangerous act one administrator proposes and a different one
    approves within 24 hours; it is carried out in the approving
    transaction. Its reason is the proposer's words (they may name the
    subject, so they are sealed under the subject's key when there is one,
    and plain otherwise)."""

    __tablename__ = "operator_proposals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    action: Mapped[ProposalAction] = mapped_column(str_enum(ProposalAction))
    state: Mapped[ProposalState] = mapped_column(str_enum(ProposalState, 16), default=ProposalState.PENDING)
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    target_subject_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("subjects.id"))
    reason: Mapped[str] = mapped_column(Text)
    proposed_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class StaffInvitation(Base):
    """An invitation to join the staff. The account exists from the start,
    inactive and without a password, its e-mail sealed under its own key;
    accepting sets the name and password, and the first sign-in enrols the
    second factor. The link carries a random token; only its hash is kept.
    An administrator's invitation waits for its proposal's approval before
    a token exists."""

    __tablename__ = "staff_invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    invited_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operator_proposals.id"))
    note: Mapped[str | None] = mapped_column(String(200))
