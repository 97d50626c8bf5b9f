"""The officers' queue: the cases a viewer may see (`policy.visible`),
filtered (status, reason, furnisher, assigned to me / unassigned) and paged,
ordered by days left. Reads only: the deadline sweep runs elsewhere
(`portal serve`'s thread, `portal disputes expire`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit.models import AccessEvent
from portal.compliance import policy
from portal.compliance.staff import staff_names
from portal.crypto import Vault
from portal.disputes.lifecycle import days_left
from portal.disputes.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeReason,
    DisputeStatus,
)
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.records.models import CreditRecord, Subject

PAGE_SIZE = 25
STATUS_FILTERS = ("open", "closed", "all", *(s.value for s in DisputeStatus))


@dataclass(frozen=True)
class QueueFilters:
    status: str = "open"  # "open", "closed", "all" or one status
    reason: DisputeReason | None = None
    institution_id: uuid.UUID | None = None
    assigned: str | None = None  # "me", "unassigned" or None (anyone)


@dataclass(frozen=True)
class QueueRow:
    id: uuid.UUID
    kind: DisputeKind
    reason: DisputeReason
    status: DisputeStatus
    filed_at: datetime
    due_on: date
    days_left: int | None  # None once closed
    paused: bool
    furnishers: list[Institution]
    assigned_name: str | None
    assigned_to_me: bool

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    pages: int
    total: int


def _queue_conditions(session: Session, officer: User, filters: QueueFilters) -> list:
    where = policy.visible(policy.viewer(session, officer))
    if filters.status == "open":
        where.append(Dispute.status.in_(OPEN_STATUSES))
    elif filters.status == "closed":
        where.append(Dispute.status.in_(CLOSED_STATUSES))
    elif filters.status != "all":
        where.append(Dispute.status == DisputeStatus(filters.status))
    if filters.reason is not None:
        where.append(Dispute.reason == DisputeReason(filters.reason))
    if filters.institution_id is not None:
        furnished = exists().where(
            DisputeItem.dispute_id == Dispute.id,
            CreditRecord.id == DisputeItem.record_id,
            CreditRecord.furnisher_id == filters.institution_id,
        )
        accessed = exists().where(
            AccessEvent.id == Dispute.access_event_id, AccessEvent.institution_id == filters.institution_id
        )
        where.append(or_(furnished, accessed))
    if filters.assigned == "me":
        where.append(Dispute.assigned_officer_id == officer.id)
    elif filters.assigned == "unassigned":
        where.append(Dispute.assigned_officer_id.is_(None))
    return where


def queue(
    session: Session,
    vault: Vault,
    officer: User,
    filters: QueueFilters | None = None,
    page: int = 1,
    today: date | None = None,
) -> QueuePage:
    """Cases `officer` may see, matching `filters`: open ones first by days
    left (overdue ones, most overdue first, at the top; a paused clock counts
    its frozen days), then closed ones, newest first. Raises LookupError for
    a page past the last one.

    Open cases that are not paused come in the order of their deadline
    straight from SQL, only as many as the page needs; paused ones (their
    days left are frozen, which SQL cannot compare portably) are few and
    merged in by their days left; closed ones follow, newest first."""
    filters = filters or QueueFilters()
    today = today or local_today()
    where = _queue_conditions(session, officer, filters)
    columns = (
        Dispute.id,
        Dispute.status,
        Dispute.due_on,
        Dispute.paused_since,
        Dispute.paused_days,
        Dispute.extended_days,
        Dispute.filed_at,
    )
    base = select(*columns).join(Subject, Subject.id == Dispute.subject_id).where(*where)
    is_open = Dispute.status.in_(OPEN_STATUSES)
    counted = dict(
        session.execute(
            select(is_open, func.count())
            .select_from(Dispute)
            .join(Subject, Subject.id == Dispute.subject_id)
            .where(*where)
            .group_by(is_open)
        ).all()
    )
    open_total, total = counted.get(True, 0), sum(counted.values())
    pages = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > pages:
        raise LookupError(page)
    need = page * PAGE_SIZE

    def key(row) -> tuple:
        return (days_left(row, today), row.filed_at, str(row.id))

    running = session.execute(
        base.where(is_open, Dispute.paused_since.is_(None))
        .order_by(Dispute.due_on, Dispute.filed_at, Dispute.id)
        .limit(need)
    ).all()
    paused = session.execute(base.where(is_open, Dispute.paused_since.is_not(None))).all()
    light = sorted([*running, *paused], key=key)[:need]
    if len(light) < need and open_total < need:
        light += session.execute(
            base.where(~is_open).order_by(Dispute.filed_at.desc(), Dispute.id).limit(need - open_total)
        ).all()
    shown = [r.id for r in light[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    disputes = {d.id: d for d in session.scalars(select(Dispute).where(Dispute.id.in_(shown)))} if shown else {}
    furnishers = _case_furnishers(session, shown)
    names = staff_names(session, vault, {d.assigned_officer_id for d in disputes.values()})
    rows = []
    for dispute_id in shown:
        d = disputes[dispute_id]
        open_ = d.is_open
        rows.append(
            QueueRow(
                d.id,
                DisputeKind(d.kind),
                DisputeReason(d.reason),
                DisputeStatus(d.status),
                d.filed_at,
                d.due_on,
                days_left(d, today) if open_ else None,
                open_ and d.paused_since is not None,
                furnishers.get(d.id, []),
                names.get(d.assigned_officer_id) if d.assigned_officer_id else None,
                d.assigned_officer_id == officer.id,
            )
        )
    return QueuePage(rows, page, pages, total)


def _case_furnishers(session: Session, dispute_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Institution]]:
    """The furnishers of each case's records (or the institution of the
    access it disputes), by code."""
    if not dispute_ids:
        return {}
    pairs = list(
        session.execute(
            select(DisputeItem.dispute_id, Institution)
            .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
            .join(Institution, Institution.id == CreditRecord.furnisher_id)
            .where(DisputeItem.dispute_id.in_(dispute_ids))
        ).all()
    )
    pairs += session.execute(
        select(Dispute.id, Institution)
        .join(AccessEvent, AccessEvent.id == Dispute.access_event_id)
        .join(Institution, Institution.id == AccessEvent.institution_id)
        .where(Dispute.id.in_(dispute_ids))
    ).all()
    out: dict[uuid.UUID, dict[uuid.UUID, Institution]] = {}
    for dispute_id, institution in pairs:
        out.setdefault(dispute_id, {})[institution.id] = institution
    return {k: sorted(v.values(), key=lambda i: i.code) for k, v in out.items()}


def furnisher_choices(session: Session) -> list[Institution]:
    """Institutions that furnished a record some case covers, or whose
    access a case disputes."""
    furnished = select(CreditRecord.furnisher_id).join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
    accessed = select(AccessEvent.institution_id).join(Dispute, Dispute.access_event_id == AccessEvent.id)
    return list(
        session.scalars(
            select(Institution)
            .where(or_(Institution.id.in_(furnished), Institution.id.in_(accessed)))
            .order_by(Institution.code)
        )
    )


__all__ = ["PAGE_SIZE", "STATUS_FILTERS", "QueueFilters", "QueuePage", "QueueRow", "furnisher_choices", "queue"]
