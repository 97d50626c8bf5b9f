"""Institution oversight: an institution's queries, refusals, authorities,
disputes and notices; supervisors suspend its querying."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.audit.names import PURPOSE_NAMES
from portal.compliance import oversight, policy
from portal.compliance.console import console_blueprint, is_supervisor, me, supervisors_only
from portal.compliance.oversight_forms import LiftForm, PeriodForm, SuspendForm
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.localtime import today as local_today
from portal.paging import page_number

bp = console_blueprint("oversight", __name__)

NAMES = dict(
    KIND_NAMES=oversight.KIND_NAMES,
    REFUSAL_NAMES=oversight.REFUSAL_NAMES,
    AUTHORITY_NAMES=oversight.AUTHORITY_NAMES,
    PURPOSE_NAMES=PURPOSE_NAMES,
)


def _institution(institution_id: uuid.UUID, for_update: bool = False) -> Institution:
    found = oversight.load(session(), institution_id, for_update=for_update)
    if found is None:
        abort(404)
    return found


@bp.get("/institutions")
def institutions():
    try:
        page = oversight.institutions(session(), page_number())
    except LookupError:
        abort(404)
    return render_template("compliance/institutions.html", page=page, recent_days=oversight.RECENT_DAYS, **NAMES)


def _render(institution: Institution, form: SuspendForm | LiftForm | None = None, status: int = 200):
    """The institution's page; `form` is a supervisor's refused form, shown
    with its errors and what was typed."""
    today = local_today()
    period = PeriodForm(request.args)
    start, end = period.chosen(today) if request.args and period.validate() else oversight.default_period(today)
    view = oversight.oversight(session(), vault(), policy.viewer(session(), me()), institution, start, end, today)
    supervisor = is_supervisor(me())
    if supervisor and form is None:
        form = SuspendForm() if institution.suspended_at is None else LiftForm()
    return render_template(
        "compliance/institution.html",
        view=view,
        period=period,
        form=form if supervisor else None,
        suspending=isinstance(form, SuspendForm),
        **NAMES,
    ), status


@bp.get("/institutions/<uuid:institution_id>")
def institution(institution_id: uuid.UUID):
    return _render(_institution(institution_id))


@bp.post("/institutions/<uuid:institution_id>/suspend")
@supervisors_only
def suspend(institution_id: uuid.UUID):
    found = _institution(institution_id, for_update=True)
    if found.suspended_at is not None:
        flash(_("This institution is already suspended: nothing was changed."), "error")
        return redirect(url_for(".institution", institution_id=institution_id))
    form = SuspendForm()
    if not form.validate_on_submit():
        return _render(found, form, 400)
    oversight.suspend(session(), found, me(), form.reason.data)
    flash(_("Its report queries are now refused, with your reason, until the suspension is lifted."), "success")
    return redirect(url_for(".institution", institution_id=institution_id))


@bp.post("/institutions/<uuid:institution_id>/lift")
@supervisors_only
def lift(institution_id: uuid.UUID):
    found = _institution(institution_id, for_update=True)
    if found.suspended_at is None:
        flash(_("This institution is not suspended: nothing was changed."), "error")
        return redirect(url_for(".institution", institution_id=institution_id))
    form = LiftForm()
    if not form.validate_on_submit():
        return _render(found, form, 400)
    oversight.lift(session(), found, me(), form.reason.data)
    flash(_("The suspension is lifted: its report queries are answered again."), "success")
    return redirect(url_for(".institution", institution_id=institution_id))
