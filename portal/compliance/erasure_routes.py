"""Erasure requests' pages: the person asks (/account/erasure) and follows
their request; officers and supervisors work the queue under
/compliance/erasure (the console's door: everyone else gets 404) and decide.
The blueprint also carries the pages that close an account
(`accounts.closure_routes`), the other way a person leaves. Routes parse and
render; the rules are `erasure`."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from portal.accounts import closure_routes
from portal.compliance import erasure
from portal.compliance.console import console_blueprint, me
from portal.compliance.erasure_forms import AcceptForm, ErasureRequestForm, RefuseForm
from portal.extensions import session, vault
from portal.i18n import day, shown
from portal.paging import page_number

bp = Blueprint("erasure", __name__)
cases = console_blueprint("cases", __name__)
bp.register_blueprint(cases)
bp.register_blueprint(closure_routes.bp)


# -- the person -------------------------------------------------------------------
@bp.route("/account/erasure", methods=["GET", "POST"])
@login_required
def request_form():
    user = current_user.user
    if not erasure.may_request(user):
        abort(404)
    form = ErasureRequestForm()
    if form.validate_on_submit():
        try:
            filed = erasure.file_request(
                session(), vault(), user, erasure.ErasureGround(form.ground.data), form.statement.data or ""
            )
        except erasure.AlreadyOpen as exc:
            flash(shown(exc), "error")
            return redirect(url_for(".request_status", request_id=exc.request_id))
        except erasure.ErasureRefusal as exc:  # nothing was written; what was typed is kept
            form.statement.errors.append(shown(exc))
        else:
            flash(_("Your request was sent. An officer decides by %(day)s.", day=day(filed.due_on)), "success")
            return redirect(url_for(".request_status", request_id=filed.id))
    mine = erasure.own_requests(session(), user)
    return (
        render_template(
            "compliance/erasure_form.html",
            form=form,
            requests=mine,
            waiting=next((r for r in mine if r.status is erasure.ErasureStatus.OPEN), None),
            deadline_days=erasure.DEADLINE_DAYS,
            STATUS_NAMES=erasure.STATUS_NAMES,
        ),
        400 if form.errors else 200,
    )


@bp.get("/account/erasure/<uuid:request_id>")
@login_required
def request_status(request_id: uuid.UUID):
    found = erasure.load_own(session(), current_user.user, request_id)
    if found is None:
        abort(404)
    return render_template("compliance/erasure_status.html", view=erasure.request_view(session(), vault(), found))


# -- officers and supervisors ----------------------------------------------------------
@cases.get("/erasure")
def queue():
    decided = request.args.get("show") == "decided"
    try:
        page = erasure.queue(session(), vault(), me(), decided, page_number())
    except LookupError:
        abort(404)
    return render_template("compliance/erasure_queue.html", page=page, decided=decided)


def _request(request_id: uuid.UUID, for_update: bool = False) -> erasure.ErasureRequest:
    found = erasure.load_for_officer(session(), me(), request_id, for_update)
    if found is None:
        abort(404)
    return found


def _render(found: erasure.ErasureRequest, status: int = 200, **given: Any):
    forms = {"accept": AcceptForm(formdata=None, prefix="accept"), "refuse": RefuseForm(formdata=None, prefix="refuse")}
    forms.update(given)
    view = erasure.case_view(session(), vault(), found, me())
    return render_template("compliance/erasure_case.html", case=view, forms=forms), status


@cases.get("/erasure/<uuid:request_id>")
def case(request_id: uuid.UUID):
    return _render(_request(request_id))


@cases.post("/erasure/<uuid:request_id>/accept")
def accept(request_id: uuid.UUID):
    found = _request(request_id, for_update=True)
    form = AcceptForm(prefix="accept")
    if not form.validate_on_submit():
        return _render(found, 400, accept=form)
    try:
        sent = erasure.accept(session(), vault(), found, me())
    except erasure.ErasureRefusal as exc:
        flash(shown(exc), "error")
        return redirect(url_for(".case", request_id=request_id))
    flash(
        ngettext(
            "The file was erased. A receipt went to %(num)d address.",
            "The file was erased. A receipt went to %(num)d addresses.",
            sent,
        )
        if sent
        else _("The file was erased. There was no address to send a receipt to."),
        "success",
    )
    return redirect(url_for(".case", request_id=request_id))


@cases.post("/erasure/<uuid:request_id>/refuse")
def refuse(request_id: uuid.UUID):
    found = _request(request_id, for_update=True)
    form = RefuseForm(prefix="refuse")
    if not form.validate_on_submit():
        return _render(found, 400, refuse=form)
    try:
        erasure.refuse(session(), vault(), found, me(), form.reason.data)
    except erasure.ErasureRefusal as exc:
        flash(shown(exc), "error")
        return redirect(url_for(".case", request_id=request_id))
    flash(_("The request was refused. The person was told why."), "success")
    return redirect(url_for(".case", request_id=request_id))
