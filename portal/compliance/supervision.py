"""The supervisors' view of the staff: what each officer holds and did
(counted in SQL), their open cases moved to another officer in one go
(each move the single-case assignment, refused by the same rules), and
each officer's actions read back from the access events and the
append-only tables (steps, notes, alert steps, files sent). Reads, except
`reassign`, which flushes and never commits."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import String, Uuid, cast, func, literal_column, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.accounts.services import display_name
from portal.audit.events import open_detail
from portal.audit.models import AccessEvent, EventKind
from portal.compliance import assignment, policy
from portal.compliance.models import Alert, AlertStep
from portal.compliance.overdue import overdue_by
from portal.compliance.policy import CASE_ROLES
from portal.compliance.reveal import MaskedSubject
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.lifecycle import days_left
from portal.disputes.models import (
    OPEN_STATUSES,
    Dispute,
    DisputeNote,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    Evidence,
    EvidenceShare,
    StepKind,
)
from portal.i18n import N_, Refusal, shown
from portal.localtime import today as local_today
from portal.records.models import Subject
from portal.records.services import view_subject

PAGE_SIZE = 25
RECENT_DAYS = 30
MAX_BULK = 200  # cases moved by one form: more than a page, far fewer than a flood


# -- the overview --------------------------------------------------------------------------
@dataclass(frozen=True)
class OfficerLoad:
    id: uuid.UUID
    name: str
    role: Role
    active: bool
    open_cases: int
    overdue: int
    resolved: int  # cases they decided in the last RECENT_DAYS days
    reveals: int  # identities they revealed in the last RECENT_DAYS days


def _count_by(column, *where):
    """(key, n) per `column` over the rows matching `where`, as a subquery."""
    return select(column.label("user_id"), func.count().label("n")).where(*where).group_by(column).subquery()


def overview(
    session: Session, vault: Vault, today: date | None = None, now: datetime | None = None
) -> list[OfficerLoad]:
    """Every officer and supervisor, active or not, with their counts; by name."""
    today, now = today or local_today(), now or utcnow()
    since = now - timedelta(days=RECENT_DAYS)
    held = Dispute.assigned_officer_id
    open_ = _count_by(held, Dispute.status.in_(OPEN_STATUSES))
    resolved = (
        select(DisputeStep.actor_user_id.label("user_id"), func.count(func.distinct(DisputeStep.dispute_id)).label("n"))
        .where(DisputeStep.step == StepKind.RESOLVED, DisputeStep.at >= since)
        .group_by(DisputeStep.actor_user_id)
        .subquery()
    )
    reveals = _count_by(
        AccessEvent.actor_user_id, AccessEvent.kind == EventKind.IDENTITY_REVEALED, AccessEvent.occurred_at >= since
    )
    rows = session.execute(
        select(User, func.coalesce(open_.c.n, 0), func.coalesce(resolved.c.n, 0), func.coalesce(reveals.c.n, 0))
        .outerjoin(open_, open_.c.user_id == User.id)
        .outerjoin(resolved, resolved.c.user_id == User.id)
        .outerjoin(reveals, reveals.c.user_id == User.id)
        .where(User.role.in_(CASE_ROLES))
    ).all()
    late = overdue_by(session, today, held)  # as the statistics count them
    out = [
        OfficerLoad(
            u.id, display_name(session, vault, u), Role(u.role), u.is_active, n_open, late.get(u.id, 0), n_done, n_rev
        )
        for u, n_open, n_done, n_rev in rows
    ]
    return sorted(out, key=lambda o: (not o.active, o.name.casefold(), str(o.id)))


def staff_member(session: Session, user_id: uuid.UUID) -> User | None:
    """The officer or supervisor with this id (anyone else: None)."""
    user = session.get(User, user_id)
    return user if user is not None and Role(user.role) in CASE_ROLES else None


# -- an officer's open cases ------------------------------------------------------------
@dataclass(frozen=True)
class HeldCase:
    id: uuid.UUID
    subject: MaskedSubject | None  # None: the subject's data is gone
    reason: DisputeReason
    status: DisputeStatus
    due_on: date
    days_left: int
    paused: bool

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


@dataclass(frozen=True)
class HeldPage:
    rows: list[HeldCase]
    page: int
    pages: int
    total: int


def _pages(total: int, page: int) -> int:
    pages = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > pages:
        raise LookupError(page)
    return pages


def held_cases(
    session: Session, vault: Vault, supervisor: User, officer: User, page: int = 1, today: date | None = None
) -> HeldPage:
    """The open cases `officer` holds that `supervisor` may see, by deadline,
    subjects masked. Raises LookupError for a page past the last one."""
    today = today or local_today()
    where = [
        Dispute.assigned_officer_id == officer.id,
        Dispute.status.in_(OPEN_STATUSES),
        *policy.visible(policy.viewer(session, supervisor)),
    ]
    total = session.scalar(
        select(func.count()).select_from(Dispute).join(Subject, Subject.id == Dispute.subject_id).where(*where)
    )
    pages = _pages(total or 0, page)
    rows = session.execute(
        select(Dispute, Subject)
        .join(Subject, Subject.id == Dispute.subject_id)
        .where(*where)
        .order_by(Dispute.due_on, Dispute.filed_at, Dispute.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return HeldPage(
        [
            HeldCase(
                d.id,
                MaskedSubject.of(view_subject(session, vault, s)),
                DisputeReason(d.reason),
                DisputeStatus(d.status),
                d.due_on,
                days_left(d, today),
                d.paused_since is not None,
            )
            for d, s in rows
        ],
        page,
        pages,
        total or 0,
    )


# -- reassignment in bulk ----------------------------------------------------------------
@dataclass(frozen=True)
class Moved:
    dispute_id: uuid.UUID | None  # None: a value that names no case
    refused: str | None = None  # why it did not move (translated), None: it moved

    @property
    def moved(self) -> bool:
        return self.refused is None


def reassign(
    session: Session, vault: Vault, supervisor: User, officer: User, target: User, dispute_ids: list[uuid.UUID]
) -> list[Moved]:
    """Give each of `officer`'s cases to `target`, one by one through the
    single-case assignment (its rules, its audited step). A case refused,
    or no longer the officer's, is reported and the others still move."""
    out = []
    for dispute_id in dict.fromkeys(dispute_ids):  # each once, in the order chosen
        try:
            dispute = policy.load_case(session, supervisor, dispute_id)
            if dispute.assigned_officer_id != officer.id:
                raise policy.AssignmentRefused(N_("This case is no longer held by this officer."))
            assignment.assign(session, vault, dispute, supervisor, target)
        except policy.CaseNotFound:
            out.append(Moved(dispute_id, shown(Refusal(N_("No such case, or not one you may see.")))))
        except Refusal as exc:
            out.append(Moved(dispute_id, shown(exc)))
        else:
            out.append(Moved(dispute_id))
    return out


# -- an officer's log ----------------------------------------------------------------------
class LogKind:
    REVEAL = "reveal"
    CASE_VIEWED = "case_viewed"
    STEP = "step"
    NOTE = "note"
    ALERT = "alert"
    SHARE = "share"


@dataclass(frozen=True)
class LogLine:
    at: datetime
    kind: str  # a LogKind
    what: str | None  # the step (StepKind value) or the alert's action
    dispute_id: uuid.UUID | None  # the case it concerns, when known
    linked: bool  # the supervisor may open that case
    alert_rule: str | None = None


@dataclass(frozen=True)
class LogPage:
    lines: list[LogLine]
    page: int
    pages: int
    total: int


def _kind(value: str):
    return literal_column(f"'{value}'", String)


def _no_id():
    return cast(null(), Uuid)


def _log_rows(officer_id: uuid.UUID, since: datetime | None):
    """One UNION ALL of everything the officer did: (at, kind, what,
    row_id, dispute_id, subject_id, alert_id)."""

    def after(column):
        return [column >= since] if since is not None else []

    events = select(
        AccessEvent.occurred_at.label("at"),
        type_coerce(AccessEvent.kind, String).label("kind"),
        cast(null(), String).label("what"),
        AccessEvent.id.label("row_id"),
        _no_id().label("dispute_id"),
        AccessEvent.subject_id.label("subject_id"),
        _no_id().label("alert_id"),
    ).where(
        AccessEvent.actor_user_id == officer_id,
        AccessEvent.kind.in_([EventKind.IDENTITY_REVEALED, EventKind.CASE_VIEWED]),
        *after(AccessEvent.occurred_at),
    )
    steps = select(
        DisputeStep.at,
        _kind(LogKind.STEP),
        type_coerce(DisputeStep.step, String),
        DisputeStep.id,
        DisputeStep.dispute_id,
        _no_id(),
        _no_id(),
    ).where(DisputeStep.actor_user_id == officer_id, *after(DisputeStep.at))
    notes = select(
        DisputeNote.created_at,
        _kind(LogKind.NOTE),
        cast(null(), String),
        DisputeNote.id,
        DisputeNote.dispute_id,
        _no_id(),
        _no_id(),
    ).where(DisputeNote.author_user_id == officer_id, *after(DisputeNote.created_at))
    alerts = select(
        AlertStep.at, _kind(LogKind.ALERT), AlertStep.action, AlertStep.id, _no_id(), _no_id(), AlertStep.alert_id
    ).where(AlertStep.actor_user_id == officer_id, *after(AlertStep.at))
    shares = (
        select(
            EvidenceShare.shared_at,
            _kind(LogKind.SHARE),
            cast(null(), String),
            EvidenceShare.id,
            Evidence.dispute_id,
            _no_id(),
            _no_id(),
        )
        .join(Evidence, Evidence.id == EvidenceShare.evidence_id)
        .where(EvidenceShare.shared_by_user_id == officer_id, *after(EvidenceShare.shared_at))
    )
    return union_all(events, steps, notes, alerts, shares).subquery()


def officer_log(
    session: Session, vault: Vault, supervisor: User, officer: User, since: datetime | None, page: int = 1
) -> LogPage:
    """What `officer` did since `since` (None: ever), newest first. Raises
    LookupError for a page past the last one."""
    rows = _log_rows(officer.id, since)
    total = session.scalar(select(func.count()).select_from(rows)) or 0
    pages = _pages(total, page)
    shown_rows = session.execute(
        select(rows).order_by(rows.c.at.desc(), rows.c.row_id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    # Reveals and case openings name their case only in the sealed detail.
    event_ids = [r.row_id for r in shown_rows if r.subject_id is not None]
    events = (
        {e.id: e for e in session.scalars(select(AccessEvent).where(AccessEvent.id.in_(event_ids)))}
        if event_ids
        else {}
    )
    subjects: dict[uuid.UUID, Subject] = {}
    for_event: dict[uuid.UUID, uuid.UUID] = {}
    for event in events.values():
        subject = subjects.setdefault(event.subject_id, session.get_one(Subject, event.subject_id))
        if subject.shredded_at is not None:
            continue
        detail, _salt = open_detail(vault.cipher(session, subject.data_key_id), event)
        with contextlib.suppress(ValueError):
            for_event[event.id] = uuid.UUID(str(detail.get("dispute_id")))
    dispute_ids = {r.dispute_id for r in shown_rows if r.dispute_id is not None} | set(for_event.values())
    disputes = (
        {d.id: d for d in session.scalars(select(Dispute).where(Dispute.id.in_(dispute_ids)))} if dispute_ids else {}
    )
    for d in disputes.values():
        subjects.setdefault(d.subject_id, session.get_one(Subject, d.subject_id))
    alert_ids = {r.alert_id for r in shown_rows if r.alert_id is not None}
    rules = (
        dict(session.execute(select(Alert.id, Alert.rule).where(Alert.id.in_(alert_ids))).all()) if alert_ids else {}
    )
    me = policy.viewer(session, supervisor)
    lines = []
    for r in shown_rows:
        dispute_id = r.dispute_id if r.dispute_id is not None else for_event.get(r.row_id)
        dispute = disputes.get(dispute_id) if dispute_id is not None else None
        kind = r.kind
        if r.subject_id is not None:
            kind = LogKind.REVEAL if kind == EventKind.IDENTITY_REVEALED else LogKind.CASE_VIEWED
        lines.append(
            LogLine(
                r.at,
                kind,
                r.what,
                dispute_id,
                dispute is not None and policy.can_see(me, dispute, subjects.get(dispute.subject_id)),
                rules.get(r.alert_id) if r.alert_id is not None else None,
            )
        )
    return LogPage(lines, page, pages, total)


__all__ = [
    "MAX_BULK",
    "PAGE_SIZE",
    "RECENT_DAYS",
    "HeldCase",
    "HeldPage",
    "LogKind",
    "LogLine",
    "LogPage",
    "Moved",
    "OfficerLoad",
    "held_cases",
    "officer_log",
    "overview",
    "reassign",
    "staff_member",
]
