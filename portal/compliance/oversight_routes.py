"""Institution oversight: an institution's queries, refusals, authorities,
disputes and notices; supervisors suspend its querying."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.audit.names import PURPOSE_NAMES
from portal.compliance import oversight, policy
from portal.compliance.console import console_blueprint, is_supervisor, me, supervisors_only
from portal.compliance.oversight_forms import HoursForm, LiftForm, PeriodForm, SuspendForm
from portal.extensions import session, vault
from portal.i18n import N_
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


def _render(
    institution: Institution, form: SuspendForm | LiftForm | None = None, hours: HoursForm | None = None, status=200
):
    """The institution's page; `form` or `hours` is a supervisor's refused
    form, shown with its errors and what was typed (the other is blank)."""
    today = local_today()
    period = PeriodForm(request.args)
    start, end = period.chosen(today) if request.args and period.validate() else oversight.default_period(today)
    view = oversight.oversight(session(), vault(), policy.viewer(session(), me()), institution, start, end, today)
    supervisor = is_supervisor(me())
    if supervisor and form is None:
        blank = SuspendForm if institution.suspended_at is None else LiftForm
        form = blank(formdata=None, seen=oversight.last_step(session(), institution))
    if supervisor and hours is None:
        hours = HoursForm(
            formdata=None,
            prefix="hours",
            start=institution.query_hours_from,
            until=institution.query_hours_until,
            any_hour=institution.query_hours_from is None,
        )
    return render_template(
        "compliance/institution.html",
        view=view,
        period=period,
        form=form if supervisor else None,
        hours=hours if supervisor else None,
        suspending=isinstance(form, SuspendForm),
        **NAMES,
    ), status


@bp.get("/institutions/<uuid:institution_id>")
def institution(institution_id: uuid.UUID):
    return _render(_institution(institution_id))


def _back(institution_id: uuid.UUID):
    return redirect(url_for(".institution", institution_id=institution_id))


STALE = N_(
    "The suspension changed since you opened the page (another supervisor acted): nothing was changed. "
    "Check its state and history below, then act again if you still need to."
)


def _change(institution_id: uuid.UUID, form_class, wanted_suspended: bool, already: str, act, done: str):
    """Suspend or lift: refused when already so or when the page was stale
    (its `seen` step is no longer the last), the form shown again when
    invalid, otherwise done and back to the page."""
    found = _institution(institution_id, for_update=True)
    if (found.suspended_at is not None) == wanted_suspended:
        flash(already, "error")
        return _back(institution_id)
    form = form_class()
    if form.seen.data != oversight.last_step(session(), found):
        flash(_(STALE), "error")
        return _back(institution_id)
    if not form.validate_on_submit():
        return _render(found, form, status=400)
    act(session(), found, me(), form.reason.data, seen=form.seen.data)
    flash(done, "success")
    return _back(institution_id)


@bp.post("/institutions/<uuid:institution_id>/suspend")
@supervisors_only
def suspend(institution_id: uuid.UUID):
    return _change(
        institution_id,
        SuspendForm,
        True,
        _("This institution is already suspended: nothing was changed."),
        oversight.suspend,
        _("Its report queries are now refused, with your reason, until the suspension is lifted."),
    )


@bp.post("/institutions/<uuid:institution_id>/lift")
@supervisors_only
def lift(institution_id: uuid.UUID):
    return _change(
        institution_id,
        LiftForm,
        False,
        _("This institution is not suspended: nothing was changed."),
        oversight.lift,
        _("The suspension is lifted: its report queries are answered again."),
    )


@bp.post("/institutions/<uuid:institution_id>/hours")
@supervisors_only
def hours(institution_id: uuid.UUID):
    found = _institution(institution_id, for_update=True)
    form = HoursForm(prefix="hours")
    if not form.validate_on_submit():
        return _render(found, hours=form, status=400)
    oversight.set_hours(session(), found, me(), *form.hours())
    flash(_("The declared query hours are saved; the monitoring checks its queries against them."), "success")
    return _back(institution_id)
