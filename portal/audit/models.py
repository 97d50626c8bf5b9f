"""Access events: every read of a subject's data and every change to it,
refused attempts included, written in the same transaction as the action.
What happened in detail is sealed under the subject's data key. Every area
writes them, so they sit low: below records, accounts and institutions,
whose tables they name only by foreign key."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import LOG_INDEX, Base, new_id, str_enum, utcnow


class EventKind(StrEnum):
    SELF_QUERY = "self_query"  # the subject (or its agent) viewed the report
    INSTITUTION_QUERY = "institution_query"  # an institution asked for the report (served or refused)
    RECORD_FURNISHED = "record_furnished"  # a new record, or a new version of one
    CONSENT_GRANTED = "consent_granted"
    CONSENT_REVOKED = "consent_revoked"
    AUTHORISATION_REGISTERED = "authorisation_registered"  # a signed written authorisation
    LOCK_SET = "lock_set"
    LOCK_RELEASED = "lock_released"
    COMPLAINT_FILED = "complaint_filed"  # "I did not authorise this"
    EXPORT = "export"  # ... or downloaded it
    REGISTRATION = "registration"  # an account was opened for the subject
    DELEGATION_GRANTED = "delegation_granted"
    DELEGATION_REVOKED = "delegation_revoked"
    INVITATION_SENT = "invitation_sent"
    INVITATION_CANCELLED = "invitation_cancelled"
    DISPUTE_FILED = "dispute_filed"  # a dispute (objection) was filed
    DISPUTE_STEP = "dispute_step"  # a step of a dispute: status change, extension, evidence
    CASE_VIEWED = "case_viewed"  # an officer opened a case about the subject
    IDENTITY_REVEALED = "identity_revealed"  # an officer unmasked the name and identifier, with a reason
    EVIDENCE_SENT = "evidence_sent"  # a furnisher fetched a dispute's evidence through the API
    DISPUTE_FORWARDED = "dispute_forwarded"  # an officer sent the dispute to a furnisher for an answer
    CORRECTION_NOTICE = "correction_notice"  # a recipient of a changed record was sent a notice
    ACCOUNT_RECOVERED = "account_recovered"  # a password was reset through an e-mailed link
    SECOND_FACTOR_RESET = "second_factor_reset"  # a lost second factor turned off with a code to the contact on file
    RECORD_REMOVED = "record_removed"  # negative information past its retention: its content shredded
    ACCOUNT_CLOSED = "account_closed"  # the subject closed their login: its e-mail and name shredded
    ERASURE_REQUESTED = "erasure_requested"  # the subject asked for their file to be erased
    ERASURE_VIEWED = "erasure_viewed"  # an officer opened the subject's erasure request
    ERASURE_DECIDED = "erasure_decided"  # accepted (served: the file is then shredded) or refused


class Outcome(StrEnum):
    SERVED = "served"
    REFUSED = "refused"


class AccessEvent(Base):
    __tablename__ = "access_events"
    __table_args__ = (
        Index("ix_access_events_subject_id_occurred_at", "subject_id", "occurred_at"),
        # Statistics, monitoring and oversight read the log by period.
        Index("ix_access_events_occurred_at", "occurred_at"),
        Index("ix_access_events_institution_id_occurred_at", "institution_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, 8))
    purpose: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # web, api, staff
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    # An institution query's basis when served, or why it was refused (a
    # code of `access.basis.Reason`, no personal data): monitoring counts
    # refusals by it with SQL, without opening the sealed detail.
    basis: Mapped[str | None] = mapped_column(String(40))
    # JSON: the actor's role, what was seen or changed, and the salt of the
    # log leaf (sealed, so a shredded subject's leaf can no longer be tied
    # to its content).
    detail_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # Its leaf in the transparency log, appended in the same transaction.
    log_index: Mapped[int | None] = mapped_column(LOG_INDEX, unique=True)


class EventCursor(Base):
    """How far a background job has read the access log, by log index: it
    takes the events after it in log order. The integrator gives indexes in
    the order it commits them, so no event is passed over."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=-1)


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


class IssuedDocument(Base):
    """A signed PDF the portal issued (a report, an outcome letter): its
    number, printed on it, and the SHA-256 of the exact file, which its
    access event (a leaf of the log) also carries. `series` groups the
    documents a newer one replaces: a subject's reports, one dispute's
    letters."""

    __tablename__ = "issued_documents"

    number: Mapped[str] = mapped_column(String(24), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    series: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_events.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorAct(Base):
    """What an administrator did that is not about one subject's file (those
    are access events): an institution created or changed, an API key
    issued, a member of staff invited, a role changed, a proposal made or
    decided. Rows are only added; supervisors read them. `detail` holds
    codes, ids and changed settings, never a name, e-mail or record value."""

    __tablename__ = "operator_acts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # web or cli
    action: Mapped[str] = mapped_column(String(40))
    target_kind: Mapped[str] = mapped_column(String(24))  # institution, api_key, user, proposal, keys
    target: Mapped[str] = mapped_column(String(64))  # an institution code, a key id, a user's id
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
