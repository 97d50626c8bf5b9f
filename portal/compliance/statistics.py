"""The registry's figures for a period: disputes by month, regime, reason,
kind, furnisher and officer; how long they took and whether within the
deadline; furnishers' answer times and accuracy; the backlog now; the
correction notices. One place for the page, its CSV and the regulator's
export.

Every figure is an SQL aggregate. Percentiles too, portably (SQLite has no
percentile_cont): each group's values are ranked with ROW_NUMBER and counted
with COUNT OVER, and the median is the mean of the middle one or two ranks,
the 90th percentile the nearest rank, ceil(0.9 n).

A case belongs to a period by the day it was filed (the portal's calendar),
a notice by the day it was sent; the backlog is the open cases at the
moment the figures are made (`Statistics.as_of`), whatever the period:
the cases' past states are not kept, and the figures say when they were
counted. Overdue is `overdue.overdue`'s, as on the supervisors' page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, Select, String, and_, case, cast, func, literal, null, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.selectable import ScalarSelect

from portal.compliance.forms import KIND_NAMES, REASON_NAMES
from portal.compliance.overdue import overdue
from portal.compliance.staff import staff_names
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    CorrectionNotice,
    Dispute,
    DisputeItem,
    DisputeKind,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    DisputeStep,
    FurnisherResponse,
    Regime,
    StepKind,
)
from portal.disputes.names import OUTCOME_NAMES
from portal.i18n import lazy as _l
from portal.i18n import local_name
from portal.institutions.models import Institution
from portal.localtime import zone
from portal.records.models import CreditRecord

MAX_DAYS = 5 * 366  # the longest period asked for at once
EARLIEST = date(2000, 1, 1)  # no day before: the portal kept nothing then
AHEAD_DAYS = 366  # no day later than this many days after today
ALL = "all"  # the key of a total row
UNASSIGNED = "unassigned"
# Open cases by age in days since filing: (key, first day, last day or None).
AGE_BUCKETS = (("0-5", 0, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21+", 21, None))
CORRECTING = (DisputeOutcome.CORRECTED, DisputeOutcome.DELETED)


@dataclass(frozen=True)
class Period:
    """Local calendar days, both included."""

    start: date
    until: date

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        nxt = date(year + month // 12, month % 12 + 1, 1)
        return cls(first, nxt - timedelta(days=1))

    @classmethod
    def last_year(cls, today: date) -> Period:
        """The last twelve calendar months, this one (to today) included."""
        return cls(_add_months(today.replace(day=1), -11), today)

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC moments the period starts and ends (exclusive)."""
        tz = zone()
        first = datetime.combine(self.start, time(), tzinfo=tz).astimezone(UTC)
        after = datetime.combine(self.until + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
        return first, after

    def months(self) -> list[str]:
        out, at = [], self.start.replace(day=1)
        while at <= self.until:
            out.append(f"{at.year:04d}-{at.month:02d}")
            at = _add_months(at, 1)
        return out


def _add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Spread:
    """How a duration in days spreads over a group (None: no values)."""

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class CaseFigures:
    key: str
    received: int = 0
    open: int = 0
    closed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    resolution: Spread = Spread()  # days from filing to the decision, of the decided cases
    on_time: int = 0  # decided on or before the deadline

    @property
    def on_time_share(self) -> float | None:
        return _share(self.on_time, self.resolution.count)


@dataclass(frozen=True)
class FurnisherFigures:
    key: str  # the institution's id
    answers: Spread = Spread()  # days from forwarding to the answer
    decided: int = 0  # its records decided in cases of the period
    corrected_or_deleted: int = 0

    @property
    def correction_share(self) -> float | None:
        return _share(self.corrected_or_deleted, self.decided)


@dataclass(frozen=True)
class NoticeFigures:
    key: str
    sent: int = 0
    acknowledged: int = 0
    acknowledgement: Spread = Spread()  # days from sending to the acknowledgement


@dataclass(frozen=True)
class Backlog:
    by_age: dict[str, int]
    open: int
    overdue: int


@dataclass(frozen=True)
class Statistics:
    period: Period
    as_of: datetime  # when the backlog was counted
    total: CaseFigures
    by_month: list[CaseFigures]
    by_regime: list[CaseFigures]
    by_reason: list[CaseFigures]
    by_kind: list[CaseFigures]
    by_furnisher: list[CaseFigures]
    by_officer: list[CaseFigures]
    furnishers: list[FurnisherFigures]
    notices: NoticeFigures
    notices_by_institution: list[NoticeFigures]
    backlog: Backlog

    @property
    def empty(self) -> bool:
        return self.total.received == 0 and self.notices.sent == 0 and self.backlog.open == 0


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- dialect-dependent expressions ----------------------------------------------------------
class _Sql:
    """Dates and durations on SQLite and PostgreSQL. SQLite has no time
    zones: it uses the portal zone's offset now (exact for zones without
    daylight saving, such as the default Asia/Shanghai)."""

    def __init__(self, session: Session) -> None:
        self.pg = session.get_bind().dialect.name == "postgresql"
        tz = zone()
        self.zone_name = tz.key
        offset = utcnow().astimezone(tz).utcoffset() or timedelta()
        self.minutes = int(offset.total_seconds() // 60)

    def days(self, later: Any, earlier: Any) -> ColumnElement[float]:
        """Days (with fractions) from `earlier` to `later`."""
        if self.pg:
            return cast(func.extract("epoch", later - earlier) / 86400.0, Float)
        return cast(func.julianday(later) - func.julianday(earlier), Float)

    def local_day(self, moment: Any) -> ColumnElement[Any]:
        if self.pg:
            return cast(func.timezone(self.zone_name, moment), Date)
        return func.date(moment, f"{self.minutes:+d} minutes")

    def local_month(self, moment: Any) -> ColumnElement[str]:
        if self.pg:
            return func.to_char(func.timezone(self.zone_name, moment), "YYYY-MM")
        return func.strftime("%Y-%m", moment, f"{self.minutes:+d} minutes")


# -- the queries ----------------------------------------------------------------------------
def _spreads(session: Session, values: Subquery) -> dict[str, Spread]:
    """Count, mean, median and 90th percentile of `values.c.value` by
    `values.c.key` (rows without a value left out)."""
    key, value = values.c.key, values.c.value
    ranked = (
        select(
            key.label("key"),
            value.label("value"),
            func.row_number().over(partition_by=key, order_by=value).label("rn"),
            func.count().over(partition_by=key).label("n"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    rn, n, v = ranked.c.rn, ranked.c.n, ranked.c.value
    middle = rn.in_([(n + 1) // 2, (n + 2) // 2])
    rows = session.execute(
        select(
            ranked.c.key,
            func.count(),
            func.avg(v),
            func.avg(case((middle, v), else_=null())),
            func.max(case((rn == (9 * n + 9) // 10, v), else_=null())),
        ).group_by(ranked.c.key)
    ).all()
    return {_key(k): Spread(int(c), _round(mean), _round(median), _round(p90)) for k, c, mean, median, p90 in rows}


def _key(value: Any) -> str:
    """A group's key as text; ids in their usual form (SQLite keeps them as
    32 hex digits, PostgreSQL with dashes)."""
    text = str(value)
    if len(text) == 32:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
    return text


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _in_period(column: Any, period: Period) -> ColumnElement[bool]:
    first, after = period.bounds()
    return and_(column >= first, column < after)


def _decided_at() -> Subquery:
    return (
        select(DisputeStep.dispute_id.label("dispute_id"), func.min(DisputeStep.at).label("at"))
        .where(DisputeStep.step == StepKind.RESOLVED)
        .group_by(DisputeStep.dispute_id)
        .subquery()
    )


def _keyed_cases(sql: _Sql, period: Period, dimension: str) -> Subquery:
    """One row per case of the period and group of `dimension` (a case
    about records of two furnishers counts for each)."""
    decided = _decided_at()
    key: Any
    if dimension == "month":
        key = sql.local_month(Dispute.filed_at)
    elif dimension == "officer":
        key = func.coalesce(cast(Dispute.assigned_officer_id, String), UNASSIGNED)
    elif dimension == "furnisher":
        key = None
    elif dimension == ALL:
        key = literal(ALL)
    else:
        key = getattr(Dispute, dimension)
    furnishers = (
        select(DisputeItem.dispute_id.label("dispute_id"), CreditRecord.furnisher_id.label("furnisher_id"))
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .distinct()
        .subquery()
    )
    if key is None:
        key = cast(furnishers.c.furnisher_id, String)
    q: Select[Any] = select(
        key.label("key"),
        Dispute.status.label("status"),
        Dispute.outcome.label("outcome"),
        case((decided.c.at.is_not(None), sql.days(decided.c.at, Dispute.filed_at)), else_=null()).label("value"),
        case((sql.local_day(decided.c.at) <= Dispute.due_on, 1), else_=0).label("on_time"),
    ).outerjoin(decided, decided.c.dispute_id == Dispute.id)
    if dimension == "furnisher":
        q = q.join(furnishers, furnishers.c.dispute_id == Dispute.id)
    return q.where(_in_period(Dispute.filed_at, period)).subquery()


def _case_figures(session: Session, sql: _Sql, period: Period, dimension: str) -> dict[str, CaseFigures]:
    rows = _keyed_cases(sql, period, dimension)
    outcome_columns = [
        func.sum(case((rows.c.outcome == o.value, 1), else_=0)).label(f"o_{o.value}") for o in DisputeOutcome
    ]
    counted = session.execute(
        select(
            rows.c.key,
            func.count(),
            func.sum(case((rows.c.status.in_([s.value for s in OPEN_STATUSES]), 1), else_=0)),
            func.sum(case((rows.c.status.in_([s.value for s in CLOSED_STATUSES]), 1), else_=0)),
            func.sum(rows.c.on_time),
            *outcome_columns,
        ).group_by(rows.c.key)
    ).all()
    spreads = _spreads(session, rows)
    out = {}
    for key, received, open_, closed, on_time, *outcomes in counted:
        k = _key(key)
        out[k] = CaseFigures(
            k,
            int(received),
            int(open_ or 0),
            int(closed or 0),
            {o.value: int(n or 0) for o, n in zip(DisputeOutcome, outcomes, strict=True)},
            spreads.get(k, Spread()),
            int(on_time or 0),
        )
    return out


def _ordered(found: dict[str, CaseFigures], keys: list[str] | None = None) -> list[CaseFigures]:
    """Rows in `keys`' order, zero rows for the keys without a case; or,
    with no keys given, the rows found by number of cases."""
    if keys is None:
        return sorted(found.values(), key=lambda r: (-r.received, r.key))
    return [found.get(k, CaseFigures(k)) for k in keys]


def forwarded_at() -> ScalarSelect[Any]:
    """When the case of a furnisher's answer (FurnisherResponse, correlated)
    was last sent to the furnishers before that answer: answer times count
    from it."""
    return (
        select(func.max(DisputeStep.at))
        .where(
            DisputeStep.dispute_id == FurnisherResponse.dispute_id,
            DisputeStep.step == StepKind.WAITING_FOR_FURNISHER,
            DisputeStep.at <= FurnisherResponse.created_at,
        )
        .correlate(FurnisherResponse)
        .scalar_subquery()
    )


def _furnisher_figures(session: Session, sql: _Sql, period: Period) -> list[FurnisherFigures]:
    forwarded = forwarded_at()
    answers = (
        select(
            cast(FurnisherResponse.institution_id, String).label("key"),
            sql.days(FurnisherResponse.created_at, forwarded).label("value"),
        )
        .join(Dispute, Dispute.id == FurnisherResponse.dispute_id)
        .where(_in_period(Dispute.filed_at, period))
        .subquery()
    )
    spreads = _spreads(session, answers)
    decision = func.coalesce(DisputeItem.outcome, Dispute.outcome)
    accuracy = session.execute(
        select(
            cast(CreditRecord.furnisher_id, String),
            func.count(),
            func.sum(case((decision.in_([o.value for o in CORRECTING]), 1), else_=0)),
        )
        .select_from(DisputeItem)
        .join(Dispute, Dispute.id == DisputeItem.dispute_id)
        .join(CreditRecord, CreditRecord.id == DisputeItem.record_id)
        .where(
            _in_period(Dispute.filed_at, period),
            Dispute.kind == DisputeKind.OBJECTION,
            Dispute.status == DisputeStatus.RESOLVED,
        )
        .group_by(CreditRecord.furnisher_id)
    ).all()
    decided = {_key(k): (int(n), int(c or 0)) for k, n, c in accuracy}
    keys = sorted(set(spreads) | set(decided))
    return [FurnisherFigures(k, spreads.get(k, Spread()), *decided.get(k, (0, 0))) for k in keys]


def _notice_figures(session: Session, sql: _Sql, period: Period, by_institution: bool) -> dict[str, NoticeFigures]:
    key = cast(CorrectionNotice.institution_id, String) if by_institution else literal(ALL)
    rows = (
        select(
            key.label("key"),
            CorrectionNotice.acknowledged_at.label("acknowledged_at"),
            case(
                (
                    CorrectionNotice.acknowledged_at.is_not(None),
                    sql.days(CorrectionNotice.acknowledged_at, CorrectionNotice.created_at),
                ),
                else_=null(),
            ).label("value"),
        )
        .where(_in_period(CorrectionNotice.created_at, period))
        .subquery()
    )
    counted = session.execute(
        select(rows.c.key, func.count(), func.count(rows.c.acknowledged_at)).group_by(rows.c.key)
    ).all()
    spreads = _spreads(session, rows)
    return {_key(k): NoticeFigures(_key(k), int(n), int(a), spreads.get(_key(k), Spread())) for k, n, a in counted}


def _backlog(session: Session, sql: _Sql, now: datetime, today: date) -> Backlog:
    age = sql.days(literal(now), Dispute.filed_at)
    buckets = [
        func.sum(case((and_(age >= low, age < high + 1) if high is not None else age >= low, 1), else_=0))
        for _, low, high in AGE_BUCKETS
    ]
    row = session.execute(
        select(func.count(), *buckets).where(Dispute.status.in_([s.value for s in OPEN_STATUSES]))
    ).one()
    total, *counts = row
    return Backlog(
        {k: int(n or 0) for (k, _, _), n in zip(AGE_BUCKETS, counts, strict=True)}, int(total), overdue(session, today)
    )


def statistics(session: Session, period: Period, now: datetime | None = None) -> Statistics:
    now = now or utcnow()
    today = now.astimezone(zone()).date()
    sql = _Sql(session)

    def by(dimension: str, keys: list[str] | None = None) -> list[CaseFigures]:
        return _ordered(_case_figures(session, sql, period, dimension), keys)

    total = _case_figures(session, sql, period, ALL).get(ALL, CaseFigures(ALL))
    notices = _notice_figures(session, sql, period, by_institution=False).get(ALL, NoticeFigures(ALL))
    return Statistics(
        period=period,
        as_of=now,
        total=total,
        by_month=by("month", period.months()),
        by_regime=by("regime", [r.value for r in Regime]),
        by_reason=[r for r in by("reason", [r.value for r in DisputeReason]) if r.received],
        by_kind=by("kind", [k.value for k in DisputeKind]),
        by_furnisher=by("furnisher"),
        by_officer=by("officer"),
        furnishers=_furnisher_figures(session, sql, period),
        notices=notices,
        notices_by_institution=sorted(
            _notice_figures(session, sql, period, by_institution=True).values(), key=lambda r: (-r.sent, r.key)
        ),
        backlog=_backlog(session, sql, now, today),
    )


def institution_ids(stats: Statistics) -> set[uuid.UUID]:
    keys = {r.key for r in stats.by_furnisher} | {r.key for r in stats.furnishers}
    keys |= {r.key for r in stats.notices_by_institution}
    return {uuid.UUID(k) for k in keys}


def officer_ids(stats: Statistics) -> set[uuid.UUID]:
    return {uuid.UUID(r.key) for r in stats.by_officer if r.key != UNASSIGNED}


# -- the figures as tables: the page shows them, the CSV and the export list them ------------
@dataclass(frozen=True)
class Table:
    """One table of the page: a row per group, a column per measure.
    Values are numbers (shares as fractions of 1) or None (nothing to
    measure, e.g. no case decided)."""

    id: str
    caption: str
    group: str  # the header of the groups' column
    columns: list[tuple[str, str]]  # (measure key, header)
    rows: list[tuple[str, str, list[float | int | None]]]  # (key, label, values)
    note: str = ""  # added to each row's label in the CSV and the export


Labels = dict[str, dict[str, str]]  # by dimension, a group's key to its shown name


def _spread_values(s: Spread) -> list[float | int | None]:
    return [s.median, s.mean, s.p90]


def tables(stats: Statistics, labels: Labels, names: dict[str, str]) -> list[Table]:
    """`names`: the measures' and tables' headers by key (translated by the
    caller); `labels`: the groups' names by dimension."""

    def n(key: str) -> str:
        return names.get(key, key)

    case_columns = [
        ("received", n("received")),
        ("open", n("open")),
        ("closed", n("closed")),
        *((f"outcome.{o.value}", n(f"outcome.{o.value}")) for o in DisputeOutcome),
        ("decided", n("decided")),
        ("days_median", n("days_median")),
        ("days_mean", n("days_mean")),
        ("days_p90", n("days_p90")),
        ("on_time_share", n("on_time_share")),
    ]

    def case_row(r: CaseFigures, dimension: str) -> tuple[str, str, list[float | int | None]]:
        values: list[float | int | None] = [r.received, r.open, r.closed]
        values += [r.outcomes.get(o.value, 0) for o in DisputeOutcome]
        values += [r.resolution.count, *_spread_values(r.resolution), r.on_time_share]
        return r.key, labels.get(dimension, {}).get(r.key, r.key), values

    out = [
        Table(f"by_{d}", n(f"by_{d}"), n(d), case_columns, [case_row(r, d) for r in rows])
        for d, rows in (
            ("all", [stats.total]),
            ("month", stats.by_month),
            ("regime", stats.by_regime),
            ("reason", stats.by_reason),
            ("kind", stats.by_kind),
            ("furnisher", stats.by_furnisher),
            ("officer", stats.by_officer),
        )
    ]
    out.append(
        Table(
            "furnishers",
            n("furnishers"),
            n("furnisher"),
            [
                ("answers", n("answers")),
                ("answer_days_median", n("answer_days_median")),
                ("answer_days_mean", n("answer_days_mean")),
                ("answer_days_p90", n("answer_days_p90")),
                ("records_decided", n("records_decided")),
                ("corrected_or_deleted", n("corrected_or_deleted")),
                ("correction_share", n("correction_share")),
            ],
            [
                (
                    r.key,
                    labels.get("furnisher", {}).get(r.key, r.key),
                    [
                        r.answers.count,
                        *_spread_values(r.answers),
                        r.decided,
                        r.corrected_or_deleted,
                        r.correction_share,
                    ],
                )
                for r in stats.furnishers
            ],
        )
    )
    backlog: list[tuple[str, str, list[float | int | None]]] = [
        (k, n(f"age.{k}"), [v]) for k, v in stats.backlog.by_age.items()
    ]
    backlog += [("all", n("all_open"), [stats.backlog.open]), ("overdue", n("overdue"), [stats.backlog.overdue])]
    as_of = stats.as_of.astimezone(zone()).strftime("%Y-%m-%d %H:%M %z")  # the same in every language
    out.append(
        Table(
            "backlog",
            n("backlog") % {"moment": as_of},
            n("age"),
            [("open", n("open"))],
            backlog,
            note=n("backlog_note") % {"moment": as_of},
        )
    )
    notice_columns = [
        ("sent", n("sent")),
        ("acknowledged", n("acknowledged")),
        ("ack_days_median", n("ack_days_median")),
        ("ack_days_mean", n("ack_days_mean")),
        ("ack_days_p90", n("ack_days_p90")),
    ]
    out.append(
        Table(
            "notices",
            n("notices"),
            n("institution"),
            notice_columns,
            [
                (r.key, n("all") if r.key == ALL else labels.get("furnisher", {}).get(r.key, r.key), v)
                for r in [stats.notices, *stats.notices_by_institution]
                for v in [[r.sent, r.acknowledged, *_spread_values(r.acknowledgement)]]
            ],
        )
    )
    return out


@dataclass(frozen=True)
class Figure:
    """One number of a table, flat: a line of the CSV and of the export."""

    table: str
    key: str
    label: str
    measure: str
    value: float | int | None


def figures(all_tables: list[Table]) -> list[Figure]:
    return [
        Figure(t.id, key, f"{label} ({t.note})" if t.note else label, column, value)
        for t in all_tables
        for key, label, values in t.rows
        for (column, _), value in zip(t.columns, values, strict=True)
    ]


# Headers of the tables and their columns, and the groups' names that are not data.
NAMES = {
    "by_all": _l("All cases filed in the period"),
    "by_month": _l("Cases by month filed"),
    "by_regime": _l("Cases by deadline regime"),
    "by_reason": _l("Cases by reason"),
    "by_kind": _l("Disputes and credit repair applications"),
    "by_furnisher": _l("Cases by furnisher of a disputed record"),
    "by_officer": _l("Cases by officer"),
    "furnishers": _l("Furnishers: answer times and records corrected or deleted"),
    "backlog": _l("Open cases as of %(moment)s, by age"),
    "backlog_note": _l("open cases as of %(moment)s"),
    "notices": _l("Correction notices sent in the period"),
    "all": _l("All"),
    "month": _l("Month"),
    "regime": _l("Regime"),
    "reason": _l("Reason"),
    "kind": _l("Kind"),
    "furnisher": _l("Furnisher"),
    "officer": _l("Officer"),
    "institution": _l("Institution"),
    "age": _l("Age (days since filing)"),
    "received": _l("Received"),
    "open": _l("Still open"),
    "closed": _l("Closed (decided or withdrawn)"),
    "decided": _l("Decided"),
    "days_median": _l("Days to decide, median"),
    "days_mean": _l("Days to decide, mean"),
    "days_p90": _l("Days to decide, 90th percentile"),
    "on_time_share": _l("Decided within the deadline"),
    "answers": _l("Answers"),
    "answer_days_median": _l("Days to answer, median"),
    "answer_days_mean": _l("Days to answer, mean"),
    "answer_days_p90": _l("Days to answer, 90th percentile"),
    "records_decided": _l("Records decided"),
    "corrected_or_deleted": _l("Corrected or deleted"),
    "correction_share": _l("Share corrected or deleted"),
    "all_open": _l("All open cases"),
    "overdue": _l("Overdue now"),
    "sent": _l("Sent"),
    "acknowledged": _l("Acknowledged"),
    "ack_days_median": _l("Days to acknowledge, median"),
    "ack_days_mean": _l("Days to acknowledge, mean"),
    "ack_days_p90": _l("Days to acknowledge, 90th percentile"),
    "age.0-5": _l("0 to 5 days"),
    "age.6-10": _l("6 to 10 days"),
    "age.11-20": _l("11 to 20 days"),
    "age.21+": _l("More than 20 days"),
    UNASSIGNED: _l("Unassigned"),
    **{f"outcome.{o.value}": name for o, name in OUTCOME_NAMES.items()},
}
REGIME_NAMES = {
    Regime.CN_20_DAYS.value: _l("China, 20 days"),
    Regime.FCRA_30_DAYS.value: _l("FCRA, 30 days"),
    Regime.GDPR_ONE_MONTH.value: _l("GDPR, one month"),
}
SHARES = frozenset({"on_time_share", "correction_share"})  # fractions of 1, shown as percentages


def names() -> dict[str, str]:
    """The headers in the current language."""
    return {k: str(v) for k, v in NAMES.items()}


def labels(session: Session, vault: Vault, stats: Statistics) -> Labels:
    """The groups' names in the current language: institutions by their
    public name, officers by their staff name, never a subject."""
    institutions = session.scalars(select(Institution).where(Institution.id.in_(institution_ids(stats)))).all()
    officers = {str(k): v for k, v in staff_names(session, vault, officer_ids(stats)).items()}
    return {
        "all": {ALL: str(NAMES["all"])},
        "regime": {k: str(v) for k, v in REGIME_NAMES.items()},
        "reason": {r.value: str(v) for r, v in REASON_NAMES.items()},
        "kind": {k.value: str(v) for k, v in KIND_NAMES.items()},
        "furnisher": {str(i.id): local_name(i) for i in institutions},
        "officer": {**officers, UNASSIGNED: str(NAMES[UNASSIGNED])},
    }


__all__ = ["Figure", "Period", "Statistics", "Table", "figures", "statistics", "tables"]
