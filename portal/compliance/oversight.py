"""Institution oversight: what each institution did with its access (its
queries, refusals, authorities held, disputes of its records and its
answers, notices it has not acknowledged, its API keys), and a supervisor's
suspension of its querying. Every figure is an SQL aggregate that runs on
SQLite and PostgreSQL; no subject is named or counted by identity here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from portal.access.basis import NAMES as BASIS_WORDS
from portal.access.basis import SERVED
from portal.access.models import Consent, ConsentKind
from portal.accounts.models import User
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.compliance import policy
from portal.compliance.staff import staff_names
from portal.compliance.statistics import forwarded_at
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.models import (
    OPEN_STATUSES,
    CorrectionNotice,
    Dispute,
    DisputeItem,
    DisputeStatus,
    FurnisherResponse,
)
from portal.i18n import lazy as _l
from portal.institutions.models import ApiKey, Institution, InstitutionKind, InstitutionSuspension
from portal.localtime import day_of, zone
from portal.records.models import CreditRecord, Subject

PAGE_SIZE = 25
RECENT_DAYS = 30  # the list's window
MAX_REASON = 500
NOTICES_LISTED = 20  # the oldest unacknowledged ones; the count covers all
# The actions of the institution's oversight history (InstitutionSuspension):
# its querying suspended and lifted, and its declared query hours changed.
SUSPENDED, LIFTED, HOURS = "suspended", "lifted", "hours"
ANY_HOUR = "any"  # the reason text of hours cleared
NO_STEP = "none"  # what a page shows as its last suspension step when there is none

KIND_NAMES = {
    InstitutionKind.BANK: _l("Bank"),
    InstitutionKind.LENDER: _l("Lender"),
    InstitutionKind.COURT: _l("Court"),
    InstitutionKind.TAX_BUREAU: _l("Tax bureau"),
    InstitutionKind.REGULATOR: _l("Regulator"),
    InstitutionKind.UTILITY: _l("Utility"),
    InstitutionKind.EMPLOYER: _l("Employer"),
}
# The refusal reasons of `access.basis` as staff read them.
REFUSAL_NAMES = {reason: name for reason, name in BASIS_WORDS.items() if reason not in SERVED}
AUTHORITY_NAMES = {
    ConsentKind.GRANT: _l("Consent given on the portal"),
    ConsentKind.WRITTEN: _l("Written authorisation"),
}


class SuspensionError(Exception):
    """Suspending a suspended institution, or lifting one that is not."""


class StaleSuspension(SuspensionError):
    """The suspension changed since the page the supervisor acted on."""


# -- portable SQL pieces -------------------------------------------------------------------
def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _local_month(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a UTC timestamp in the portal's time zone. SQLite has
    no zones: it shifts by the zone's offset now (exact for zones without
    daylight saving, such as the default Asia/Shanghai)."""
    if _dialect(session) == "postgresql":
        return func.to_char(func.timezone(zone().key, column), "YYYY-MM")
    offset = utcnow().astimezone(zone()).utcoffset() or timedelta(0)
    return func.strftime("%Y-%m", column, f"{int(offset.total_seconds() // 60):+d} minutes")


def _days_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Days (fractional) from `start` to `end`."""
    if _dialect(session) == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return cast(func.julianday(end) - func.julianday(start), Float)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC moments of local midnight before `start` and after `end`."""
    tz = zone()
    return datetime.combine(start, time(), tz), datetime.combine(end + timedelta(days=1), time(), tz)


def _queries(institution_id: Any) -> list[ColumnElement[bool]]:
    return [AccessEvent.kind == EventKind.INSTITUTION_QUERY, AccessEvent.institution_id == institution_id]


def _disputes_of(institution_id: Any):
    """Ids of the disputes covering a record the institution furnished."""
    return (
        select(DisputeItem.dispute_id)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(CreditRecord.furnisher_id == institution_id)
    )


# -- the list ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class InstitutionRow:
    institution: Institution
    queries: int  # in the last RECENT_DAYS days
    refusals: int  # of those
    open_disputes: int
    unacknowledged: int

    @property
    def suspended(self) -> bool:
        return self.institution.suspended_at is not None


@dataclass(frozen=True)
class InstitutionsPage:
    rows: list[InstitutionRow]
    page: int
    pages: int
    total: int


def institutions(session: Session, page: int = 1, now: datetime | None = None) -> InstitutionsPage:
    """Every institution by code, a page of them, with its recent figures.
    Raises LookupError for a page past the last one."""
    now = now or utcnow()
    total = session.scalar(select(func.count()).select_from(Institution)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > pages:
        raise LookupError(page)
    shown = (
        select(Institution.id).order_by(Institution.code).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).subquery()
    recent = (
        select(
            AccessEvent.institution_id.label("id"),
            func.count().label("queries"),
            func.sum(case((AccessEvent.outcome == Outcome.REFUSED, 1), else_=0)).label("refusals"),
        )
        .where(
            AccessEvent.kind == EventKind.INSTITUTION_QUERY,
            AccessEvent.institution_id.in_(select(shown.c.id)),
            AccessEvent.occurred_at >= now - timedelta(days=RECENT_DAYS),
        )
        .group_by(AccessEvent.institution_id)
        .subquery()
    )
    disputes = (
        select(CreditRecord.furnisher_id.label("id"), func.count(Dispute.id.distinct()).label("n"))
        .join(DisputeItem, DisputeItem.record_id == CreditRecord.id)
        .join(Dispute, Dispute.id == DisputeItem.dispute_id)
        .where(Dispute.status.in_(OPEN_STATUSES), CreditRecord.furnisher_id.in_(select(shown.c.id)))
        .group_by(CreditRecord.furnisher_id)
        .subquery()
    )
    notices = (
        select(CorrectionNotice.institution_id.label("id"), func.count().label("n"))
        .where(CorrectionNotice.acknowledged_at.is_(None), CorrectionNotice.institution_id.in_(select(shown.c.id)))
        .group_by(CorrectionNotice.institution_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Institution,
            func.coalesce(recent.c.queries, 0),
            func.coalesce(recent.c.refusals, 0),
            func.coalesce(disputes.c.n, 0),
            func.coalesce(notices.c.n, 0),
        )
        .join(shown, shown.c.id == Institution.id)
        .outerjoin(recent, recent.c.id == Institution.id)
        .outerjoin(disputes, disputes.c.id == Institution.id)
        .outerjoin(notices, notices.c.id == Institution.id)
        .order_by(Institution.code)
    ).all()
    return InstitutionsPage(
        [InstitutionRow(i, int(q), int(r), int(d), int(n)) for i, q, r, d, n in rows], page, pages, total
    )


# -- one institution ----------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryCount:
    month: str  # YYYY-MM, local
    purpose: str | None
    served: int
    refused: int


@dataclass(frozen=True)
class RefusalCount:
    reason: str | None  # a `Reason` value
    count: int


@dataclass(frozen=True)
class AuthorityCount:
    kind: ConsentKind
    live: int
    expired: int
    revoked: int


@dataclass(frozen=True)
class DisputeFigures:
    open: int  # disputes of its records open now
    filed: int  # filed in the period
    answers: int  # its answers given in the period
    mean_days: float | None  # from the case's forwarding to the answer
    median_days: float | None
    longest_days: float | None
    waiting: int  # its records in cases waiting for furnishers, not yet answered


@dataclass(frozen=True)
class NoticeAge:
    id: uuid.UUID
    dispute_id: uuid.UUID | None  # None: a case the viewer may not see (`policy.can_see`)
    created_at: datetime
    age_days: int


@dataclass(frozen=True)
class SuspensionStep:
    action: str
    reason: str
    actor: str | None
    at: datetime


@dataclass(frozen=True)
class Oversight:
    institution: Institution
    start: date
    end: date
    queries: list[QueryCount]
    served: int
    refused: int
    refusals: list[RefusalCount]
    authorities: list[AuthorityCount]
    disputes: DisputeFigures
    unacknowledged: int
    notices: list[NoticeAge]  # the oldest NOTICES_LISTED
    keys: list[ApiKey]
    history: list[SuspensionStep]


def default_period(today: date) -> tuple[date, date]:
    """The last twelve months: from the first of the month eleven months
    back until today."""
    months = today.year * 12 + today.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1), today


def oversight(
    session: Session, vault: Vault, viewer: policy.Viewer, institution: Institution, start: date, end: date, today: date
) -> Oversight:
    since, until = _bounds(start, end)
    in_period = [AccessEvent.occurred_at >= since, AccessEvent.occurred_at < until]
    month = _local_month(session, AccessEvent.occurred_at)
    refused = AccessEvent.outcome == Outcome.REFUSED
    queries = [
        QueryCount(m, p, int(s), int(r))
        for m, p, s, r in session.execute(
            select(
                month, AccessEvent.purpose, func.sum(case((refused, 0), else_=1)), func.sum(case((refused, 1), else_=0))
            )
            .where(*_queries(institution.id), *in_period)
            .group_by(month, AccessEvent.purpose)
            .order_by(month, AccessEvent.purpose)
        )
    ]
    refusals = [
        RefusalCount(reason, int(n))
        for reason, n in session.execute(
            select(AccessEvent.basis, func.count())
            .where(*_queries(institution.id), *in_period, refused)
            .group_by(AccessEvent.basis)
            .order_by(func.count().desc(), AccessEvent.basis)
        )
    ]
    notices_total, notices = _notices(session, viewer, institution, today)
    return Oversight(
        institution,
        start,
        end,
        queries,
        sum(q.served for q in queries),
        sum(q.refused for q in queries),
        refusals,
        _authorities(session, institution, today),
        _dispute_figures(session, institution, since, until),
        notices_total,
        notices,
        list(
            session.scalars(select(ApiKey).where(ApiKey.institution_id == institution.id).order_by(ApiKey.created_at))
        ),
        _history(session, vault, institution),
    )


def _authorities(session: Session, institution: Institution, today: date) -> list[AuthorityCount]:
    """Consents and written authorisations it holds, by state (counted,
    never listed: each names a subject)."""
    revoked = Consent.revoked_at.is_not(None)
    live = (~revoked) & (Consent.valid_until >= today)
    rows = session.execute(
        select(
            Consent.kind,
            func.sum(case((live, 1), else_=0)),
            func.sum(case((revoked, 0), (live, 0), else_=1)),
            func.sum(case((revoked, 1), else_=0)),
        )
        .where(Consent.institution_id == institution.id)
        .group_by(Consent.kind)
    ).all()
    found = {ConsentKind(k): AuthorityCount(ConsentKind(k), int(a), int(b), int(c)) for k, a, b, c in rows}
    return [found.get(kind, AuthorityCount(kind, 0, 0, 0)) for kind in ConsentKind]


def _dispute_figures(session: Session, institution: Institution, since: datetime, until: datetime) -> DisputeFigures:
    mine = _disputes_of(institution.id)
    open_now = session.scalar(
        select(func.count()).select_from(Dispute).where(Dispute.id.in_(mine), Dispute.status.in_(OPEN_STATUSES))
    )
    filed = session.scalar(
        select(func.count())
        .select_from(Dispute)
        .where(Dispute.id.in_(mine), Dispute.filed_at >= since, Dispute.filed_at < until)
    )
    # Each answer against the case's latest forwarding before it.
    forwarded = forwarded_at()
    days = _days_between(session, forwarded, FurnisherResponse.created_at)
    answers = (
        select(days.label("days"))
        .where(
            FurnisherResponse.institution_id == institution.id,
            FurnisherResponse.created_at >= since,
            FurnisherResponse.created_at < until,
            forwarded.is_not(None),
        )
        .subquery()
    )
    # The median from ranks (SQLite has no percentile_cont): the mean of
    # the middle one or two.
    ranked = select(
        answers.c.days, func.row_number().over(order_by=answers.c.days).label("rank"), func.count().over().label("n")
    ).subquery()
    median = session.scalar(
        select(func.avg(ranked.c.days)).where(ranked.c.rank.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
    )
    count, mean, longest = session.execute(
        select(func.count(answers.c.days), func.avg(answers.c.days), func.max(answers.c.days))
    ).one()
    waiting = session.scalar(
        select(func.count())
        .select_from(DisputeItem)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .join(Dispute, Dispute.id == DisputeItem.dispute_id)
        .where(
            CreditRecord.furnisher_id == institution.id,
            Dispute.status == DisputeStatus.WAITING_FOR_FURNISHER,
            DisputeItem.id.not_in(select(FurnisherResponse.item_id)),
        )
    )
    return DisputeFigures(
        int(open_now or 0),
        int(filed or 0),
        int(count or 0),
        _float(mean),
        _float(median),
        _float(longest),
        int(waiting or 0),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _notices(
    session: Session, viewer: policy.Viewer, institution: Institution, today: date
) -> tuple[int, list[NoticeAge]]:
    """Every pending notice counted; the oldest listed, each naming its case
    only if the viewer may see it (not linked to its subject, the subject
    not shredded)."""
    pending = [CorrectionNotice.institution_id == institution.id, CorrectionNotice.acknowledged_at.is_(None)]
    total = session.scalar(select(func.count()).select_from(CorrectionNotice).where(*pending)) or 0
    oldest = session.execute(
        select(
            CorrectionNotice.id,
            CorrectionNotice.dispute_id,
            CorrectionNotice.created_at,
            case((and_(*policy.visible(viewer)), True), else_=False),
        )
        .join(Dispute, Dispute.id == CorrectionNotice.dispute_id)
        .join(Subject, Subject.id == Dispute.subject_id)
        .where(*pending)
        .order_by(CorrectionNotice.created_at, CorrectionNotice.id)
        .limit(NOTICES_LISTED)
    ).all()
    return int(total), [NoticeAge(i, d if seen else None, at, (today - day_of(at)).days) for i, d, at, seen in oldest]


def _history(session: Session, vault: Vault, institution: Institution) -> list[SuspensionStep]:
    rows = session.scalars(
        select(InstitutionSuspension)
        .where(InstitutionSuspension.institution_id == institution.id)
        .order_by(InstitutionSuspension.at.desc(), InstitutionSuspension.id)
    ).all()
    names = staff_names(session, vault, {r.actor_user_id for r in rows})
    return [SuspensionStep(r.action, r.reason, names.get(r.actor_user_id), r.at) for r in rows]


# -- suspension ------------------------------------------------------------------------------------
def load(session: Session, institution_id: uuid.UUID, for_update: bool = False) -> Institution | None:
    return session.get(Institution, institution_id, with_for_update=for_update or None)


def last_step(session: Session, institution: Institution) -> str:
    """The id of its latest suspension or lifting (NO_STEP for none): a
    supervisor's form carries the one its page showed, so a form from a
    page older than another supervisor's step changes nothing."""
    found = session.scalar(
        select(InstitutionSuspension.id)
        .where(
            InstitutionSuspension.institution_id == institution.id,
            InstitutionSuspension.action.in_([SUSPENDED, LIFTED]),
        )
        .order_by(InstitutionSuspension.at.desc(), InstitutionSuspension.id.desc())
        .limit(1)
    )
    return str(found) if found is not None else NO_STEP


def _fresh(session: Session, institution: Institution, seen: str | None) -> None:
    if seen is not None and seen != last_step(session, institution):
        raise StaleSuspension(seen)


def suspend(
    session: Session, institution: Institution, actor: User, reason: str, seen: str | None = None
) -> InstitutionSuspension:
    """Refuse the institution's report queries from now on, with the reason
    its API is told. Load the institution `for_update`: two supervisors
    acting at once are taken one after the other. `seen`: the `last_step`
    the supervisor's page showed (None: not from a page)."""
    if institution.suspended_at is not None:
        raise SuspensionError(SUSPENDED)
    _fresh(session, institution, seen)
    return _step(session, institution, actor, SUSPENDED, reason)


def lift(
    session: Session, institution: Institution, actor: User, reason: str, seen: str | None = None
) -> InstitutionSuspension:
    if institution.suspended_at is None:
        raise SuspensionError(LIFTED)
    _fresh(session, institution, seen)
    return _step(session, institution, actor, LIFTED, reason)


def hours_text(start: int | None, until: int | None) -> str:
    return ANY_HOUR if start is None or until is None else f"{start:02d}:00-{until:02d}:00"


def set_hours(
    session: Session, institution: Institution, actor: User, start: int | None, until: int | None
) -> InstitutionSuspension:
    """Declare the local hours it queries in (from inclusive, until
    exclusive; until before from spans midnight), or none (any hour): the
    monitoring's outside-hours rule reads them. The change goes into the
    oversight history with the new hours as its text."""
    if (start is None) != (until is None):
        raise ValueError("both hours or none")
    if start is not None and until is not None and not (0 <= start <= 23 and 0 <= until <= 23 and start != until):
        raise ValueError("two different whole hours 0 to 23")
    institution.query_hours_from, institution.query_hours_until = start, until
    row = InstitutionSuspension(
        institution_id=institution.id,
        action=HOURS,
        reason=hours_text(start, until),
        actor_user_id=actor.id,
        at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def _step(session: Session, institution: Institution, actor: User, action: str, reason: str) -> InstitutionSuspension:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValueError("a reason of 1 to MAX_REASON characters")
    now = utcnow()
    institution.suspended_at = now if action == SUSPENDED else None
    institution.suspended_reason = reason if action == SUSPENDED else None
    row = InstitutionSuspension(
        institution_id=institution.id, action=action, reason=reason, actor_user_id=actor.id, at=now
    )
    session.add(row)
    session.flush()
    return row


__all__ = [
    "AUTHORITY_NAMES",
    "KIND_NAMES",
    "REFUSAL_NAMES",
    "InstitutionRow",
    "InstitutionsPage",
    "Oversight",
    "StaleSuspension",
    "SuspensionError",
    "default_period",
    "institutions",
    "last_step",
    "lift",
    "set_hours",
    "oversight",
    "suspend",
]
