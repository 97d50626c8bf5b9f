"""The supervisors' view: cases and overdue cases per officer, reassignment in bulk, each officer's actions as a log.
Supervisors only (officers get 404, as everyone else does at the console's door). The log has no route that
changes it: it is read from the access events and append-only tables."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

from flask import abort, render_template, request
from flask_babel import gettext as _
from wtforms import SelectField, SubmitField
from wtforms.validators import DataRequired, Optional

from portal.accounts.forms import MultiCheckboxField
from portal.accounts.services import display_name
from portal.audit import operator_acts
from portal.audit.names import OPERATOR_ACT_NAMES
from portal.compliance import assignment, supervision
from portal.compliance.console import console_blueprint, me, supervisors_only
from portal.compliance.forms import REASON_NAMES, STATUS_NAMES, STEP_NAMES, choices
from portal.compliance.monitoring import RULES
from portal.compliance.staff import staff_names
from portal.db import utcnow
from portal.extensions import session, vault
from portal.forms import Form
from portal.i18n import lazy as _l
from portal.paging import page_number

bp = console_blueprint("supervision", __name__)

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365, "all": None}
PERIOD_NAMES = (
    ("7", _l("Last 7 days")),
    ("30", _l("Last 30 days")),
    ("90", _l("Last 90 days")),
    ("365", _l("Last year")),
    ("all", _l("All time")),
)
ALERT_ACTIONS = {
    "opened": _l("opened"),
    "acknowledged": _l("acknowledged"),
    "escalated": _l("escalated"),
    "closed": _l("closed"),
}


class LogFilterForm(Form):
    """GET filter of the log (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    period = SelectField(_l("Period"), default="30", validators=[Optional()], choices=choices(PERIOD_NAMES))
    submit = SubmitField(_l("Show"))


class ReassignForm(Form):
    # Any value is taken: a case no longer the officer's is reported as
    # refused, not lost in a form error.
    cases = MultiCheckboxField(
        _l("Cases to move"), validate_choice=False, validators=[DataRequired(message=_l("Choose at least one case."))]
    )
    officer = SelectField(
        _l("Move them to"), validate_choice=False, validators=[DataRequired(message=_l("Choose an officer."))]
    )
    submit = SubmitField(_l("Move the chosen cases"))


def _officer(user_id: uuid.UUID):
    officer = supervision.staff_member(session(), user_id)
    if officer is None:
        abort(404)
    return officer


@bp.get("/officers")
@supervisors_only
def officers():
    return render_template(
        "compliance/officers.html", rows=supervision.overview(session(), vault()), days=supervision.RECENT_DAYS
    )


def _render_officer(officer, form: ReassignForm, page: int, results=None):
    try:
        held = supervision.held_cases(session(), vault(), me(), officer, page)
    except LookupError:
        if results is None:
            abort(404)
        held = supervision.held_cases(session(), vault(), me(), officer, 1)  # the moves emptied this page
    return render_template(
        "compliance/officer.html",
        officer=officer,
        name=display_name(session(), vault(), officer),
        held=held,
        form=form,
        chosen=set(form.cases.data or []),
        results=results,
        moved=sum(1 for r in results or [] if r.moved),
        STATUS_NAMES=STATUS_NAMES,
        REASON_NAMES=REASON_NAMES,
    )


def _reassign_form(officer) -> ReassignForm:
    form = ReassignForm()
    form.officer.choices = choices(
        [("", _("Choose an officer"))]
        + [(str(i), name) for i, name, _role in assignment.assignable_officers(session(), vault()) if i != officer.id]
    )
    return form


@bp.get("/officers/<uuid:user_id>")
@supervisors_only
def officer(user_id: uuid.UUID):
    officer = _officer(user_id)
    return _render_officer(officer, _reassign_form(officer), page_number())


@bp.post("/officers/<uuid:user_id>/reassign")
@supervisors_only
def reassign(user_id: uuid.UUID):
    officer = _officer(user_id)
    form = _reassign_form(officer)
    if not form.validate_on_submit():
        return _render_officer(officer, form, 1)
    target = None
    with contextlib.suppress(ValueError):
        target = supervision.staff_member(session(), uuid.UUID(form.officer.data))
    if target is None:
        form.officer.errors.append(_("Choose an officer from the list."))
    if len(form.cases.data) > supervision.MAX_BULK:
        form.cases.errors.append(_("Choose at most %(max)d cases at a time.", max=supervision.MAX_BULK))
    if form.errors or target is None:
        return _render_officer(officer, form, 1)
    ids, results = [], []
    for value in form.cases.data:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            results.append(supervision.Moved(None, _("No such case, or not one you may see.")))
    results = supervision.reassign(session(), vault(), me(), officer, target, ids) + results
    return _render_officer(officer, _reassign_form(officer), 1, results)


@bp.get("/officers/<uuid:user_id>/log")
@supervisors_only
def log(user_id: uuid.UUID):
    officer = _officer(user_id)
    form = LogFilterForm(request.args)
    period = form.period.data if form.validate() and form.period.data in PERIODS else "30"
    days = PERIODS[period]
    since = utcnow() - timedelta(days=days) if days is not None else None
    try:
        page = supervision.officer_log(session(), vault(), me(), officer, since, page_number())
    except LookupError:
        abort(404)
    return render_template(
        "compliance/officer_log.html",
        officer=officer,
        name=display_name(session(), vault(), officer),
        form=form,
        page=page,
        period=period,
        STEP_NAMES=STEP_NAMES,
        ALERT_ACTIONS=ALERT_ACTIONS,
        RULES=RULES,
        LogKind=supervision.LogKind,
    )


@bp.get("/operators")
@supervisors_only
def operator_acts_page():
    """The operators' journal, as administrators see it: supervisors watch
    what the people who run the system do."""
    page = page_number()
    rows, total = operator_acts.page_of(session(), page)
    pages = max(1, -(-total // operator_acts.PER_PAGE))
    if page > pages:
        abort(404)
    return render_template(
        "admin/journal.html",
        rows=rows,
        names=staff_names(session(), vault(), (r.actor_user_id for r in rows)),
        page=page,
        pages=pages,
        total=total,
        endpoint="supervision.operator_acts_page",
        back=None,
        ACT_NAMES=OPERATOR_ACT_NAMES,
    )
