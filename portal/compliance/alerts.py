"""The alert queue and an alert's triage: officers and supervisors
acknowledge an alert, escalate it to the supervisors or close it with a
reason; only a supervisor closes an escalated one. Nobody acts on an alert
about themselves, and an officer linked to an alert's subject (`policy`)
does not see it at all, as for a case. Every step is an
`AlertStep` written with the change, and a step asked of an alert that has
moved on since the page was shown is refused as stale. Services flush,
never commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from portal.access.basis import NAMES as BASIS_WORDS
from portal.accounts.models import Role, User
from portal.audit.models import AccessEvent
from portal.compliance import policy
from portal.compliance.models import Alert, AlertStatus, AlertStep
from portal.compliance.monitoring import RULES, Rule, public_link
from portal.compliance.reveal import MaskedSubject
from portal.compliance.staff import staff_names
from portal.crypto import Vault
from portal.db import utcnow
from portal.i18n import DEFAULT, N_, Refusal
from portal.i18n import lazy as _l
from portal.institutions.models import Institution
from portal.notifications.services import notify
from portal.records.models import Subject
from portal.records.services import view_subject

PAGE_SIZE = 25
MAX_REASON = 2000
NOT_CLOSED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED)
STATUS_NAMES = {
    AlertStatus.OPEN: _l("Open"),
    AlertStatus.ACKNOWLEDGED: _l("Acknowledged"),
    AlertStatus.ESCALATED: _l("Escalated to a supervisor"),
    AlertStatus.CLOSED: _l("Closed"),
}
STEP_NAMES = {
    "opened": _l("Raised by the monitoring"),
    "acknowledged": _l("Acknowledged"),
    "escalated": _l("Escalated to the supervisors"),
    "closed": _l("Closed"),
}
# An institution query's basis as staff read it: served on what, or why refused.
BASIS_NAMES = BASIS_WORDS

# The figures an alert's facts hold, as its page names them.
FACT_NAMES = {
    "queries": _l("Queries"),
    "baseline_daily_mean": _l("Daily mean of the 30 days before"),
    "factor": _l("Factor"),
    "min_queries": _l("Minimum number of queries"),
    "new_institution_minimum": _l("Minimum for an institution with no baseline"),
    "refusals": _l("Refusals"),
    "same_subject": _l("Threshold on one subject"),
    "days": _l("Days"),
    "per_day": _l("Threshold in a day"),
    "hours_from": _l("Declared hours from"),
    "hours_until": _l("Declared hours until"),
    "institutions": _l("Distinct institutions"),
    "min_institutions": _l("Threshold of institutions"),
    "kind": _l("Kind of access"),
    "count": _l("Count"),
    "peers_median": _l("Median of the other staff"),
    "min_count": _l("Minimum count"),
    "case": _l("Case"),
    "complaint": _l("Complaint"),
}


class AlertError(Refusal):
    """A step that is not allowed; its message is for the reader."""


class StaleAlert(AlertError):
    """The alert moved on since the page was shown."""


# -- the queue ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertFilters:
    status: str = "active"  # "active" (not closed), "all" or one status
    rule: str | None = None


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    rule: Rule | None
    institution: Institution | None


@dataclass(frozen=True)
class AlertPage:
    rows: list[AlertRow]
    page: int
    pages: int
    total: int


def visible(viewer: policy.Viewer) -> ColumnElement[bool]:
    """`may_see` as an SQL condition on Alert (the queue)."""
    on_file = select(Subject.id).where(Subject.shredded_at.is_(None))
    if viewer.linked:
        on_file = on_file.where(Subject.id.notin_(viewer.linked))
    return or_(Alert.subject_id.is_(None), Alert.subject_id.in_(on_file))


def may_see(session: Session, viewer: policy.Viewer, alert: Alert) -> bool:
    """As for a case (`policy.can_see`): an alert about a subject is seen
    only while the subject is on file, and by no one linked to them (a
    declared conflict, their own file, a firm they act for)."""
    if alert.subject_id is None:
        return True
    subject = session.get(Subject, alert.subject_id)
    return subject is not None and subject.shredded_at is None and subject.id not in viewer.linked


def queue(session: Session, viewer: policy.Viewer, filters: AlertFilters, page: int = 1) -> AlertPage:
    """Alerts matching `filters` that `viewer` may see, newest first. Raises
    LookupError for a page past the last one."""
    where: list[ColumnElement[bool]] = [visible(viewer)]
    if filters.status == "active":
        where.append(Alert.status.in_(NOT_CLOSED))
    elif filters.status != "all":
        where.append(Alert.status == AlertStatus(filters.status))
    if filters.rule:
        where.append(Alert.rule == filters.rule)
    total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        raise LookupError(page)
    rows = session.execute(
        select(Alert, Institution)
        .outerjoin(Institution, Institution.id == Alert.institution_id)
        .where(*where)
        .order_by(Alert.opened_at.desc(), Alert.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return AlertPage([AlertRow(a, RULES.get(a.rule), i) for a, i in rows], page, pages, total)


# -- one alert ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StepView:
    at: datetime
    action: str
    actor: str | None  # None: the monitoring
    reason: str | None


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    rule: Rule | None
    facts: list[tuple[str, Any]]
    institution: Institution | None
    subject: MaskedSubject | None
    subject_shredded: bool
    staff_name: str | None
    evidence: list[tuple[AccessEvent, Institution | None]]
    steps: list[StepView]


def load(session: Session, viewer: policy.Viewer, alert_id: uuid.UUID, for_update: bool = False) -> Alert | None:
    """The alert, if `viewer` may see it (`may_see`); None otherwise."""
    query = select(Alert).where(Alert.id == alert_id)
    if for_update and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    alert = session.scalar(query)
    return alert if alert is not None and may_see(session, viewer, alert) else None


def about(alert: Alert, user: User) -> bool:
    """The alert is about `user` (a staff member's outlying activity):
    they take no step on it."""
    return alert.staff_user_id is not None and alert.staff_user_id == user.id


def alert_view(session: Session, vault: Vault, alert: Alert) -> AlertView:
    subject = session.get(Subject, alert.subject_id) if alert.subject_id else None
    masked = None
    if subject is not None and subject.shredded_at is None:
        masked = MaskedSubject.of(view_subject(session, vault, subject))
    ids = [uuid.UUID(i) for i in alert.event_ids]
    evidence = session.execute(
        select(AccessEvent, Institution)
        .outerjoin(Institution, Institution.id == AccessEvent.institution_id)
        .where(AccessEvent.id.in_(ids))
        .order_by(AccessEvent.occurred_at, AccessEvent.id)
    ).all()
    steps = session.scalars(select(AlertStep).where(AlertStep.alert_id == alert.id).order_by(AlertStep.at)).all()
    names = staff_names(session, vault, [alert.staff_user_id, *(s.actor_user_id for s in steps)])
    return AlertView(
        alert=alert,
        rule=RULES.get(alert.rule),
        facts=sorted(alert.facts.items()),
        institution=session.get(Institution, alert.institution_id) if alert.institution_id else None,
        subject=masked,
        subject_shredded=subject is not None and subject.shredded_at is not None,
        staff_name=names.get(alert.staff_user_id) if alert.staff_user_id else None,
        evidence=[(e, i) for e, i in evidence],
        steps=[
            StepView(s.at, s.action, names.get(s.actor_user_id, "?") if s.actor_user_id else None, s.reason)
            for s in steps
        ],
    )


# -- triage ------------------------------------------------------------------------------
def _not_about(alert: Alert, actor: User) -> None:
    if about(alert, actor):
        raise AlertError(N_("This alert is about you: another officer or a supervisor deals with it."))


def _fresh(alert: Alert, seen: str) -> None:
    if alert.status.value != seen:
        raise StaleAlert(
            N_("This alert changed while you were looking at it (it is now %(status)s). Look again before acting."),
            status=STATUS_NAMES[alert.status],
        )


def _step(session: Session, alert: Alert, actor: User, action: str, reason: str | None) -> None:
    session.add(AlertStep(alert_id=alert.id, at=utcnow(), actor_user_id=actor.id, action=action, reason=reason))
    session.flush()


def _reason(reason: str | None, required: bool) -> str | None:
    reason = (reason or "").strip()
    if required and not reason:
        raise AlertError(N_("Say why the alert is closed."))
    if len(reason) > MAX_REASON:
        raise AlertError(N_("The reason is at most %(max)d characters."), max=MAX_REASON)
    return reason or None


def acknowledge(session: Session, alert: Alert, actor: User, seen: str) -> None:
    _not_about(alert, actor)
    _fresh(alert, seen)
    if alert.status is not AlertStatus.OPEN:
        raise AlertError(N_("Only an open alert can be acknowledged."))
    alert.status = AlertStatus.ACKNOWLEDGED
    _step(session, alert, actor, "acknowledged", None)


def escalate(session: Session, vault: Vault, alert: Alert, actor: User, seen: str, reason: str | None) -> int:
    """Hand the alert to the supervisors, who are told in the portal; returns
    how many were told (none when the actor is the only one)."""
    _not_about(alert, actor)
    reason = _reason(reason, required=False)
    _fresh(alert, seen)
    if alert.status not in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED):
        raise AlertError(N_("Only an open or acknowledged alert can be escalated."))
    alert.status = AlertStatus.ESCALATED
    _step(session, alert, actor, "escalated", reason)
    supervisors = session.scalars(
        select(User).where(User.role == Role.SUPERVISOR, User.is_active.is_(True), User.id != actor.id)
    ).all()
    rule = RULES.get(alert.rule)
    for supervisor in supervisors:
        with force_locale(supervisor.locale or DEFAULT):
            title = _("An alert was escalated to you: %(rule)s", rule=str(rule.title) if rule else alert.rule)
            body = _("Open it in the alert queue: %(link)s", link=public_link("alerts.alert", alert_id=alert.id))
        notify(session, vault, key_id=supervisor.data_key_id, user=supervisor, title=title, body=body)
    return len(supervisors)


def close(session: Session, alert: Alert, actor: User, seen: str, reason: str | None) -> None:
    _not_about(alert, actor)
    reason = _reason(reason, required=True)
    _fresh(alert, seen)
    if alert.status is AlertStatus.CLOSED:
        raise AlertError(N_("This alert is already closed."))
    if alert.status is AlertStatus.ESCALATED and Role(actor.role) is not Role.SUPERVISOR:
        raise AlertError(N_("Only a supervisor can close an escalated alert."))
    alert.status = AlertStatus.CLOSED
    alert.closed_at = utcnow()
    _step(session, alert, actor, "closed", reason)
