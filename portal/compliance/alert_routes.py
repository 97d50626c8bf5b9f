"""The alert queue of the access monitoring and an alert's triage: acknowledge,
escalate to a supervisor, close with a reason. Routes parse and render; the
rules of triage are `alerts`."""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.audit.names import EVENT_NAMES, PURPOSE_NAMES
from portal.compliance import alerts, policy
from portal.compliance.alert_forms import FORMS, AlertFilterForm
from portal.compliance.console import console_blueprint, me
from portal.compliance.models import Alert
from portal.extensions import session, vault
from portal.i18n import shown
from portal.paging import page_number

bp = console_blueprint("alerts", __name__)

NAMES = dict(
    STATUS_NAMES=alerts.STATUS_NAMES,
    STEP_NAMES=alerts.STEP_NAMES,
    FACT_NAMES=alerts.FACT_NAMES,
    BASIS_NAMES=alerts.BASIS_NAMES,
    EVENT_NAMES=EVENT_NAMES,
    PURPOSE_NAMES=PURPOSE_NAMES,
)
DONE = {
    "acknowledge": lambda told: _("Alert acknowledged."),
    "escalate": lambda told: (
        _("Alert escalated: the supervisors were told.")
        if told
        else _("Alert escalated. No other supervisor is active to be told.")
    ),
    "close": lambda told: _("Alert closed."),
}


@bp.get("/alerts")
def queue():
    form = AlertFilterForm(request.args)
    filters = alerts.AlertFilters()
    if form.validate():
        filters = alerts.AlertFilters(status=form.status.data or "active", rule=form.rule.data or None)
    try:
        page = alerts.queue(session(), policy.viewer(session(), me()), filters, page_number())
    except LookupError:
        abort(404)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("compliance/alerts.html", form=form, page=page, args=args, **NAMES)


def _alert(alert_id: uuid.UUID, for_update: bool = False) -> Alert:
    """The alert, or 404 for one the signed-in staff member may not see."""
    alert = alerts.load(session(), policy.viewer(session(), me()), alert_id, for_update)
    if alert is None:
        abort(404)
    return alert


def _render(alert: Alert, status: int = 200, given: dict[str, Any] | None = None, error: str | None = None):
    forms = {name: cls(formdata=None, prefix=name, seen=alert.status.value) for name, cls in FORMS.items()}
    forms.update(given or {})
    view = alerts.alert_view(session(), vault(), alert)
    about_me = alerts.about(alert, me())
    return (
        render_template(
            "compliance/alert.html", view=view, forms=forms, me=me(), about_me=about_me, error=error, **NAMES
        ),
        status,
    )


@bp.get("/alerts/<uuid:alert_id>")
def alert(alert_id: uuid.UUID):
    return _render(_alert(alert_id))


@bp.post("/alerts/<uuid:alert_id>/acknowledge")
def acknowledge(alert_id: uuid.UUID):
    return _step(alert_id, "acknowledge")


@bp.post("/alerts/<uuid:alert_id>/escalate")
def escalate(alert_id: uuid.UUID):
    return _step(alert_id, "escalate")


@bp.post("/alerts/<uuid:alert_id>/close")
def close(alert_id: uuid.UUID):
    return _step(alert_id, "close")


def _step(alert_id: uuid.UUID, action: str):
    found = _alert(alert_id, for_update=True)
    form = FORMS[action](prefix=action)
    if not form.validate_on_submit():
        return _render(found, 400, {action: form})
    reason = getattr(form, "reason", None)
    told = 0
    try:
        if action == "acknowledge":
            alerts.acknowledge(session(), found, me(), form.seen.data)
        elif action == "escalate":
            told = alerts.escalate(session(), vault(), found, me(), form.seen.data, reason.data if reason else None)
        else:
            alerts.close(session(), found, me(), form.seen.data, reason.data if reason else None)
    except alerts.StaleAlert as exc:
        flash(shown(exc), "error")
        return redirect(url_for("alerts.alert", alert_id=alert_id))
    except alerts.AlertError as exc:  # nothing was changed; what was typed is kept
        return _render(found, 400, {action: form}, error=shown(exc))
    flash(DONE[action](told), "success")
    return redirect(url_for("alerts.alert", alert_id=alert_id))
