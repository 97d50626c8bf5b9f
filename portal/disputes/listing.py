"""The subject's disputes listed (open ones first, the nearest deadline
first), and the dashboard's summary of them: view models with no personal
data beyond the dispute's own reference, dates and status."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.accounts.authz import SubjectAccess
from portal.accounts.models import User
from portal.audit.models import EventKind
from portal.crypto import Vault
from portal.disputes import lifecycle
from portal.disputes.models import OPEN_STATUSES, Dispute, DisputeItem, DisputeOutcome, DisputeReason, DisputeStatus
from portal.disputes.names import Labelled, days_phrase, short_reference
from portal.disputes.pages import log_view
from portal.records.models import Subject
from portal.records.pages import SubjectHeader
from portal.records.services import view_subject

PAGE_SIZE = 20
DASHBOARD_DISPUTES = 5


@dataclass(frozen=True)
class ListRow(Labelled):
    id: uuid.UUID
    reference: str
    status: DisputeStatus
    reason: DisputeReason
    outcome: DisputeOutcome | None
    filed_at: datetime
    due_on: date
    days_left: int | None  # open ones only
    paused: bool
    records: int

    @property
    def days_phrase(self) -> str:
        return days_phrase(self.days_left) if self.days_left is not None else ""


@dataclass(frozen=True)
class ListPage:
    subject: SubjectHeader
    rows: list[ListRow]
    page: int
    pages: int
    total: int
    open_count: int


_OPEN_FIRST = case((Dispute.status.in_(OPEN_STATUSES), 0), else_=1)


def _rows(session: Session, disputes: Sequence[Dispute]) -> list[ListRow]:
    ids = [d.id for d in disputes]
    counts = (
        dict(
            session.execute(
                select(DisputeItem.dispute_id, func.count())
                .where(DisputeItem.dispute_id.in_(ids))
                .group_by(DisputeItem.dispute_id)
            ).all()
        )
        if ids
        else {}
    )
    return [
        ListRow(
            d.id,
            short_reference(d.id),
            DisputeStatus(d.status),
            DisputeReason(d.reason),
            DisputeOutcome(d.outcome) if d.outcome else None,
            d.filed_at,
            d.due_on,
            lifecycle.days_left(d) if d.is_open else None,
            d.paused_since is not None,
            counts.get(d.id, 0),
        )
        for d in disputes
    ]


def summary(session: Session, dispute: Dispute) -> ListRow:
    """One dispute as the list shows it (no personal data)."""
    return _rows(session, [dispute])[0]


def dispute_list(session: Session, vault: Vault, user: User, access: SubjectAccess, page: int) -> ListPage:
    """Open disputes first (the nearest deadline first), then closed ones,
    newest first. LookupError for a page past the last."""
    subject = access.subject
    where = Dispute.subject_id == subject.id
    total = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
    open_count = (
        session.scalar(select(func.count()).select_from(Dispute).where(where, Dispute.status.in_(OPEN_STATUSES))) or 0
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:
        raise LookupError(page)
    disputes = session.scalars(
        select(Dispute)
        .where(where)
        .order_by(
            _OPEN_FIRST, case((Dispute.status.in_(OPEN_STATUSES), Dispute.due_on)), Dispute.filed_at.desc(), Dispute.id
        )
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    log_view(session, vault, user, access, EventKind.SELF_QUERY, what="disputes", page=page)
    return ListPage(
        SubjectHeader.of(view_subject(session, vault, subject)),
        _rows(session, disputes),
        page,
        pages,
        total,
        open_count,
    )


@dataclass(frozen=True)
class DashboardDisputes:
    open_count: int
    total: int
    rows: list[ListRow]  # the open ones with the nearest deadlines


def dashboard_disputes(session: Session, subject: Subject) -> DashboardDisputes:
    """For the dashboard (which records its own view): no personal data."""
    where = Dispute.subject_id == subject.id
    total = session.scalar(select(func.count()).select_from(Dispute).where(where)) or 0
    open_ = session.scalars(
        select(Dispute).where(where, Dispute.status.in_(OPEN_STATUSES)).order_by(Dispute.due_on, Dispute.filed_at)
    ).all()
    return DashboardDisputes(len(open_), total, _rows(session, open_[:DASHBOARD_DISPUTES]))


__all__ = [
    "DASHBOARD_DISPUTES",
    "PAGE_SIZE",
    "DashboardDisputes",
    "ListPage",
    "ListRow",
    "dashboard_disputes",
    "dispute_list",
    "summary",
]
