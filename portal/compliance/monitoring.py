"""Access monitoring: rules over the access events that raise alerts for the
officers (`alerts` is their triage). Each rule counts with SQL aggregates
over a window of the portal's local calendar days and fires on a key (an
institution, a subject, a staff member); the alert's fingerprint is the
rule, key and window, so a pass run again over the same events raises
nothing new. Thresholds are data: MONITORING_DEFAULTS in portal/config.py,
overridden by the setting MONITORING_RULES.

Passes run in the background worker over the days new events touch
(`monitor_new_events`, reading the log in order after a cursor) and on
demand for a period (`portal compliance monitor`). Services flush, never
commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel.speaklater import LazyString
from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from portal.access.basis import Reason
from portal.access.models import Complaint
from portal.accounts.models import Role, User
from portal.accounts.services import tell_user
from portal.audit.events import claim_cursor
from portal.audit.models import AccessEvent, EventKind
from portal.compliance.models import Alert, AlertStatus, AlertStep
from portal.compliance.policy import CASE_ROLES
from portal.config import DEFAULT_PUBLIC_URL, monitoring_rules
from portal.crypto import Vault
from portal.db import utcnow
from portal.disputes.models import Dispute, DisputeReason
from portal.i18n import DEFAULT
from portal.i18n import lazy as _l
from portal.institutions.models import Institution
from portal.localtime import day_of, zone
from portal.records.models import Subject

EVIDENCE_MAX = 25  # event ids kept on an alert: a page of them
# A subject is told of many institutions on their file only while it may
# still help them (the lock); an older window's alert is raised all the same.
TELL_SUBJECT_WITHIN = timedelta(days=2)
BASELINE_DAYS = 30
MONITOR_CURSOR = "monitoring"
# Refusals for want of consent, or because the subject locked their file.
CONSENT_OR_LOCK = tuple(
    r.value
    for r in (
        Reason.CONSENT_REQUIRED,
        Reason.CONSENT_NOT_FOUND,
        Reason.CONSENT_EXPIRED,
        Reason.CONSENT_REVOKED,
        Reason.CONSENT_PURPOSE_MISMATCH,
        Reason.FILE_LOCKED,
    )
)


@dataclass(frozen=True)
class Rule:
    name: str
    title: LazyString
    description: LazyString
    thresholds: dict[str, LazyString]  # each threshold's meaning


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "volume_spike",
            _l("Query volume spike"),
            _l(
                "An institution made far more queries in a day than usual: at least `factor` times its daily "
                "mean over the previous 30 days and at least `min_queries`; an institution that made no query "
                "in those 30 days, at least `new_institution_minimum`."
            ),
            {
                "factor": _l("times the daily mean of the previous 30 days"),
                "min_queries": _l("queries in the day, at least"),
                "new_institution_minimum": _l("queries in the day, with no query in the 30 days before"),
            },
        ),
        Rule(
            "repeated_refusals",
            _l("Repeated refusals"),
            _l(
                "An institution kept querying without a valid consent or despite a lock: at least "
                "`same_subject` such refusals on one subject within `days` days, or at least `per_day` in a day."
            ),
            {
                "same_subject": _l("refusals on one subject"),
                "days": _l("days of the window for one subject"),
                "per_day": _l("refusals in a day, any subject"),
            },
        ),
        Rule(
            "outside_hours",
            _l("Queries outside declared hours"),
            _l("An institution queried outside the hours it declared (local time): at least `min_queries` in a day."),
            {"min_queries": _l("queries outside the hours in a day")},
        ),
        Rule(
            "post_loan_without_contract",
            _l("Post-loan queries without a contract"),
            _l(
                "An institution asked for post-loan management on subjects it holds no open contract with: at "
                "least `min_queries` such refused queries in a day."
            ),
            {"min_queries": _l("refused queries in a day")},
        ),
        Rule(
            "many_institutions",
            _l("Many institutions on one subject"),
            _l(
                "One subject was queried by at least `min_institutions` different institutions in a day: possible "
                "identity theft. The subject is told and offered the lock of their file."
            ),
            {"min_institutions": _l("distinct institutions in a day")},
        ),
        Rule(
            "staff_outliers",
            _l("Staff member far above peers"),
            _l(
                "A staff member revealed identities, or opened cases, far more than their peers in a day: at "
                "least `factor` times the median of the other staff and at least `min_count`."
            ),
            {
                "factor": _l("times the median of the other staff"),
                "min_count": _l("reveals or case openings, at least"),
            },
        ),
        Rule(
            "complaint",
            _l("Complaint: access not authorised"),
            _l('A subject said "I did not authorise this" about an access to their file.'),
            {},
        ),
    )
}


def rules_in_effect() -> dict[str, dict[str, Any]]:
    """rule -> its thresholds and "enabled", as set (checked at start-up)."""
    return monitoring_rules(current_app.config.get("MONITORING_RULES"))


# -- windows -----------------------------------------------------------------------------
def local_start(day: date, hour: int = 0) -> datetime:
    """The UTC moment of `hour`:00 on the portal's calendar day `day`."""
    return datetime.combine(day + timedelta(days=hour // 24), time(hour % 24), tzinfo=zone()).astimezone(UTC)


def _during(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [AccessEvent.occurred_at >= start, AccessEvent.occurred_at < end]


QUERIES = AccessEvent.kind == EventKind.INSTITUTION_QUERY


@dataclass
class Firing:
    rule: str
    key: str
    start: datetime
    end: datetime
    facts: dict[str, Any]
    evidence: list[ColumnElement[bool]]  # which events are its evidence
    institution_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    staff_user_id: uuid.UUID | None = None
    # An alert of the same rule and key whose window overlaps this one's
    # stands for it (a burst spread over a sliding window is one alert).
    overlapping: bool = False

    @property
    def fingerprint(self) -> str:
        return f"{self.rule}:{self.key}:{day_of(self.start).isoformat()}/{day_of(self.end - timedelta(seconds=1))}"


# -- the rules ---------------------------------------------------------------------------
def volume_spike(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    start, end = local_start(day), local_start(day + timedelta(days=1))
    base_start = local_start(day - timedelta(days=BASELINE_DAYS))
    counts = session.execute(
        select(AccessEvent.institution_id, func.count())
        .where(QUERIES, AccessEvent.institution_id.is_not(None), *_during(start, end))
        .group_by(AccessEvent.institution_id)
        .having(func.count() >= min(t["min_queries"], t["new_institution_minimum"]))
    ).all()
    if not counts:
        return []
    baseline = dict(
        session.execute(
            select(AccessEvent.institution_id, func.count())
            .where(QUERIES, AccessEvent.institution_id.in_([i for i, _ in counts]), *_during(base_start, start))
            .group_by(AccessEvent.institution_id)
        ).all()
    )
    out = []
    for institution_id, n in counts:
        before = baseline.get(institution_id, 0)
        mean = before / BASELINE_DAYS
        if before == 0:
            fires, facts = n >= t["new_institution_minimum"], {"new_institution_minimum": t["new_institution_minimum"]}
        else:
            fires = n >= t["factor"] * mean and n >= t["min_queries"]
            facts = {"factor": t["factor"], "min_queries": t["min_queries"]}
        if fires:
            out.append(
                Firing(
                    "volume_spike",
                    str(institution_id),
                    start,
                    end,
                    {"queries": n, "baseline_daily_mean": round(mean, 2), **facts},
                    [QUERIES, AccessEvent.institution_id == institution_id, *_during(start, end)],
                    institution_id=institution_id,
                )
            )
    return out


def repeated_refusals(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    days = max(1, int(t["days"]))
    start, end = local_start(day), local_start(day + timedelta(days=1))
    since = local_start(day - timedelta(days=days - 1))
    refused = [QUERIES, AccessEvent.institution_id.is_not(None), AccessEvent.basis.in_(CONSENT_OR_LOCK)]
    out = []
    pairs = session.execute(
        select(AccessEvent.institution_id, AccessEvent.subject_id, func.count())
        .where(*refused, *_during(since, end))
        .group_by(AccessEvent.institution_id, AccessEvent.subject_id)
        .having(func.count() >= t["same_subject"], func.max(AccessEvent.occurred_at) >= start)
    ).all()
    for institution_id, subject_id, n in pairs:
        out.append(
            Firing(
                "repeated_refusals",
                f"{institution_id}:{subject_id}",
                since,
                end,
                {"refusals": n, "same_subject": t["same_subject"], "days": days},
                [*refused, AccessEvent.institution_id == institution_id, AccessEvent.subject_id == subject_id]
                + _during(since, end),
                institution_id=institution_id,
                subject_id=subject_id,
                overlapping=True,
            )
        )
    daily = session.execute(
        select(AccessEvent.institution_id, func.count())
        .where(*refused, *_during(start, end))
        .group_by(AccessEvent.institution_id)
        .having(func.count() >= t["per_day"])
    ).all()
    for institution_id, n in daily:
        out.append(
            Firing(
                "repeated_refusals",
                f"{institution_id}:day",
                start,
                end,
                {"refusals": n, "per_day": t["per_day"]},
                [*refused, AccessEvent.institution_id == institution_id, *_during(start, end)],
                institution_id=institution_id,
            )
        )
    return out


def declared_hours(day: date, hours_from: int, hours_until: int) -> list[tuple[datetime, datetime]]:
    """The UTC intervals of `day` inside the declared local hours (from
    inclusive, until exclusive; until before from spans midnight)."""
    if hours_from < hours_until:
        return [(local_start(day, hours_from), local_start(day, hours_until))]
    return [(local_start(day), local_start(day, hours_until)), (local_start(day, hours_from), local_start(day, 24))]


def outside_hours(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    start, end = local_start(day), local_start(day + timedelta(days=1))
    declared = session.execute(
        select(Institution.id, Institution.query_hours_from, Institution.query_hours_until).where(
            Institution.query_hours_from.is_not(None),
            Institution.query_hours_until.is_not(None),
            Institution.query_hours_from != Institution.query_hours_until,
        )
    ).all()
    out = []
    for institution_id, hours_from, hours_until in declared:
        hours = declared_hours(day, hours_from or 0, hours_until or 0)  # both set, by the query
        inside = or_(*(and_(*_during(a, b)) for a, b in hours))
        where = [QUERIES, AccessEvent.institution_id == institution_id, *_during(start, end), not_(inside)]
        n = session.scalar(select(func.count()).select_from(AccessEvent).where(*where)) or 0
        if n >= t["min_queries"]:
            facts = {"queries": n, "hours_from": hours_from, "hours_until": hours_until}
            facts["min_queries"] = t["min_queries"]
            out.append(Firing("outside_hours", str(institution_id), start, end, facts, where, institution_id))
    return out


def post_loan_without_contract(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    start, end = local_start(day), local_start(day + timedelta(days=1))
    refused = [QUERIES, AccessEvent.basis == Reason.NO_EXISTING_CONTRACT.value, *_during(start, end)]
    rows = session.execute(
        select(AccessEvent.institution_id, func.count())
        .where(*refused, AccessEvent.institution_id.is_not(None))
        .group_by(AccessEvent.institution_id)
        .having(func.count() >= t["min_queries"])
    ).all()
    return [
        Firing(
            "post_loan_without_contract",
            str(institution_id),
            start,
            end,
            {"queries": n, "min_queries": t["min_queries"]},
            [*refused, AccessEvent.institution_id == institution_id],
            institution_id=institution_id,
        )
        for institution_id, n in rows
    ]


def many_institutions(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    start, end = local_start(day), local_start(day + timedelta(days=1))
    where = [QUERIES, AccessEvent.institution_id.is_not(None), *_during(start, end)]
    rows = session.execute(
        select(AccessEvent.subject_id, func.count(AccessEvent.institution_id.distinct()))
        .where(*where)
        .group_by(AccessEvent.subject_id)
        .having(func.count(AccessEvent.institution_id.distinct()) >= t["min_institutions"])
    ).all()
    return [
        Firing(
            "many_institutions",
            str(subject_id),
            start,
            end,
            {"institutions": n, "min_institutions": t["min_institutions"]},
            [*where, AccessEvent.subject_id == subject_id],
            subject_id=subject_id,
        )
        for subject_id, n in rows
    ]


def staff_outliers(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    """Each staff member's count against the median of the other staff
    (those who did none count as 0), the median taken in SQL by rank."""
    start, end = local_start(day), local_start(day + timedelta(days=1))
    out = []
    for kind in (EventKind.IDENTITY_REVEALED, EventKind.CASE_VIEWED):
        counts = (
            select(AccessEvent.actor_user_id.label("uid"), func.count().label("n"))
            .where(AccessEvent.kind == kind, AccessEvent.actor_user_id.is_not(None), *_during(start, end))
            .group_by(AccessEvent.actor_user_id)
            .subquery()
        )
        staff = (
            select(User.id.label("uid"), func.coalesce(counts.c.n, 0).label("n"))
            .outerjoin(counts, counts.c.uid == User.id)
            .where(User.role.in_([Role(r) for r in CASE_ROLES]), User.is_active.is_(True))
            .subquery()
        )
        me, peer = aliased(staff), aliased(staff)
        ranked = (
            select(
                me.c.uid.label("uid"),
                me.c.n.label("own"),
                peer.c.n.label("n"),
                func.row_number().over(partition_by=me.c.uid, order_by=peer.c.n).label("rn"),
                func.count().over(partition_by=me.c.uid).label("peers"),
            )
            .join_from(me, peer, peer.c.uid != me.c.uid)
            .where(me.c.n >= t["min_count"])
            .subquery()
        )
        middle = or_(ranked.c.rn == (ranked.c.peers + 1) // 2, ranked.c.rn == (ranked.c.peers + 2) // 2)
        rows = session.execute(
            select(ranked.c.uid, func.max(ranked.c.own), func.avg(ranked.c.n)).where(middle).group_by(ranked.c.uid)
        ).all()
        for uid, own, median in rows:
            median = float(median or 0)
            if own >= t["factor"] * median:
                out.append(
                    Firing(
                        "staff_outliers",
                        f"{uid}:{kind.value}",
                        start,
                        end,
                        {
                            "kind": kind.value,
                            "count": own,
                            "peers_median": round(median, 2),
                            "factor": t["factor"],
                            "min_count": t["min_count"],
                        },
                        [AccessEvent.kind == kind, AccessEvent.actor_user_id == uid, *_during(start, end)],
                        staff_user_id=uid,
                    )
                )
    return out


def complaint(session: Session, day: date, t: dict[str, Any]) -> list[Firing]:
    """Every "I did not authorise this": a dispute of an access (reason
    unauthorised access), or a complaint filed before disputes existed."""
    start, end = local_start(day), local_start(day + timedelta(days=1))
    disputes = session.execute(
        select(Dispute.id, Dispute.subject_id, Dispute.access_event_id, AccessEvent.institution_id)
        .outerjoin(AccessEvent, AccessEvent.id == Dispute.access_event_id)
        .where(Dispute.reason == DisputeReason.UNAUTHORISED_ACCESS, Dispute.filed_at >= start, Dispute.filed_at < end)
    ).all()
    complaints = session.execute(
        select(Complaint.id, Complaint.subject_id, Complaint.event_id, AccessEvent.institution_id)
        .outerjoin(AccessEvent, AccessEvent.id == Complaint.event_id)
        .where(Complaint.created_at >= start, Complaint.created_at < end)
    ).all()
    return [
        Firing(
            "complaint",
            str(key),
            start,
            end,
            {"case": key.hex[:8]} if kind == "dispute" else {"complaint": key.hex[:8]},
            [AccessEvent.id == event_id],
            institution_id=institution_id,
            subject_id=subject_id,
        )
        for kind, rows in (("dispute", disputes), ("complaint", complaints))
        for key, subject_id, event_id, institution_id in rows
    ]


CHECKS = {
    "volume_spike": volume_spike,
    "repeated_refusals": repeated_refusals,
    "outside_hours": outside_hours,
    "post_loan_without_contract": post_loan_without_contract,
    "many_institutions": many_institutions,
    "staff_outliers": staff_outliers,
    "complaint": complaint,
}


# -- passes ------------------------------------------------------------------------------
def evaluate(session: Session, vault: Vault, days: Iterable[date]) -> list[Alert]:
    """Run every enabled rule over each of `days`; returns the alerts raised
    (none for what was already raised)."""
    rules = rules_in_effect()
    raised = []
    tell_after = utcnow() - TELL_SUBJECT_WITHIN
    for day in sorted(set(days)):
        for name, check in CHECKS.items():
            if not rules[name]["enabled"]:
                continue
            for firing in check(session, day, rules[name]):
                alert = raise_alert(session, firing)
                if alert is not None:
                    raised.append(alert)
                    if (
                        alert.rule == "many_institutions"
                        and alert.subject_id is not None
                        and alert.window_end >= tell_after
                    ):
                        tell_subject_of_many(session, vault, alert)
    return raised


def evaluate_period(session: Session, vault: Vault, first: date, last: date) -> list[Alert]:
    return evaluate(session, vault, (first + timedelta(days=i) for i in range((last - first).days + 1)))


def raise_alert(session: Session, firing: Firing) -> Alert | None:
    if session.scalar(select(Alert.id).where(Alert.fingerprint == firing.fingerprint)) is not None:
        return None
    if firing.overlapping:
        same = select(Alert.id).where(
            Alert.rule == firing.rule,
            Alert.institution_id == firing.institution_id,
            Alert.subject_id == firing.subject_id,
            Alert.window_end > firing.start,
            Alert.window_start < firing.end,
        )
        if session.scalar(same.limit(1)) is not None:
            return None
    evidence = session.scalars(
        select(AccessEvent.id)
        .where(*firing.evidence)
        .order_by(AccessEvent.occurred_at, AccessEvent.id)
        .limit(EVIDENCE_MAX)
    ).all()
    alert = Alert(
        rule=firing.rule,
        fingerprint=firing.fingerprint,
        status=AlertStatus.OPEN,
        window_start=firing.start,
        window_end=firing.end,
        institution_id=firing.institution_id,
        subject_id=firing.subject_id,
        staff_user_id=firing.staff_user_id,
        facts=firing.facts,
        event_ids=[str(i) for i in evidence],
    )
    try:
        with session.begin_nested():  # another worker may have raised it meanwhile
            session.add(alert)
            session.flush()
            session.add(AlertStep(alert_id=alert.id, actor_user_id=None, action="opened"))
            session.flush()
    except IntegrityError:
        return None
    return alert


def public_link(endpoint: str, **values: Any) -> str:
    """A page's address for a message read outside the portal (the worker
    has no request to take a host from)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return (current_app.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/") + path


def tell_subject_of_many(session: Session, vault: Vault, alert: Alert) -> int:
    """Tell the subject's own account holders, in their language, and point
    them at the lock of their file."""
    subject = session.get(Subject, alert.subject_id)
    if subject is None or subject.shredded_at is not None:
        return 0
    holders = session.scalars(
        select(User).where(
            User.subject_id == subject.id,
            User.is_active.is_(True),
            User.role.in_([Role.PERSON, Role.FIRM_REPRESENTATIVE]),
        )
    ).all()
    link = public_link("access.consent_list", subject_id=subject.id)
    for user in holders:
        with force_locale(user.locale or DEFAULT):
            title = _("Many institutions asked for your credit report")
            body = _(
                "%(count)d different institutions asked for your credit report within a day. If you did not "
                "apply for credit with them, someone may be using your identity: you can lock your file so that "
                "queries are refused (court enforcement excepted): %(link)s",
                count=int(alert.facts.get("institutions", 0)),
                link=link,
            )
        tell_user(session, vault, user, title, body)
    return len(holders)


# -- the worker's pass -------------------------------------------------------------------
def monitor_new_events(session: Session, vault: Vault, limit: int = 1000) -> int:
    """Evaluate the rules over the days of the events placed in the log
    since the last run (up to `limit` of them, in log order; only the days
    they fall on, however far apart); returns how many events were taken.
    One worker at a time holds the cursor. An upgraded portal's cursor
    starts at the log as it was (migration 0018): `portal compliance
    monitor` looks back over a period."""
    cursor = claim_cursor(session, MONITOR_CURSOR)
    if cursor is None:
        return 0
    batch = session.execute(
        select(AccessEvent.log_index, AccessEvent.occurred_at)
        .where(AccessEvent.log_index > cursor.position)
        .order_by(AccessEvent.log_index)
        .limit(limit)
    ).all()
    if not batch:
        return 0
    evaluate(session, vault, {day_of(occurred_at) for _index, occurred_at in batch})
    cursor.position = batch[-1].log_index
    session.flush()
    return len(batch)
