"""Alerts of the access monitoring: a rule fired on some access events, and
the officers' triage of it. An alert names the institution, subject or
staff member concerned by id only; its evidence is the events' ids, opened
through the pages that already guard them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, new_id, str_enum, utcnow


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # to the supervisors
    CLOSED = "closed"


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(40), index=True)
    # The rule and what it fired on (its key and window): a pass run again
    # over the same events finds the alert it already raised.
    fingerprint: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus, 16), index=True, default=AlertStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The figures that made it fire (counts, baseline, threshold): no personal data.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # the evidence, at most a page of it
    closed_at: Mapped[datetime | None]

    steps: Mapped[list[AlertStep]] = relationship(back_populates="alert", order_by="AlertStep.at")


class AlertStep(Base):
    """One step of an alert's life, by whom and why; rows are only added,
    so the triage is its own audit trail."""

    __tablename__ = "alert_steps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)  # None: the monitor
    action: Mapped[str] = mapped_column(String(16))  # opened, acknowledged, escalated, closed
    reason: Mapped[str | None] = mapped_column(Text)

    alert: Mapped[Alert] = relationship(back_populates="steps")
