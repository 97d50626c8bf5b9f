"""The subject's own credit file: dashboard, report, exports. Routes parse
and render; report.py builds the views and records each access."""

from __future__ import annotations

import json
import uuid

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user, login_required

from portal.accounts.authz import SubjectAccess, accessible, load_subject
from portal.accounts.models import DelegationScope
from portal.audit.documents import document_signer, verify_url
from portal.disputes.listing import dashboard_disputes
from portal.extensions import session, vault
from portal.localtime import today as local_today
from portal.paging import page_number
from portal.pdf import Stamp
from portal.reports import report
from portal.reports.pdf import build_pdf

bp = Blueprint("records", __name__)


def _download(body: bytes, mimetype: str, extension: str) -> Response:
    # The date only: no personal data in a file name that outlives the page.
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="credit-report-{local_today():%Y-%m-%d}.{extension}"'
    )
    return response


def _show_dashboard(access: SubjectAccess) -> str:
    view = report.dashboard(session(), vault(), current_user.user, access)
    # Disputes only for those who may file them (an agent may lack the scope).
    disputes = dashboard_disputes(session(), access.subject) if DelegationScope.FILE_DISPUTES in access.scopes else None
    return render_template("reports/dashboard.html", view=view, disputes=disputes)


@bp.get("/me")
@login_required
def dashboard():
    accesses = [a for a in accessible(session(), current_user.user) if DelegationScope.VIEW_REPORT in a.scopes]
    if len(accesses) == 1:
        return _show_dashboard(accesses[0])
    return render_template("reports/choose.html", choices=report.choices(session(), vault(), accesses))


@bp.get("/subjects/<uuid:subject_id>")
@login_required
def subject_dashboard(subject_id: uuid.UUID):
    return _show_dashboard(load_subject(session(), current_user.user, subject_id))


@bp.get("/subjects/<uuid:subject_id>/report")
@login_required
def report_page(subject_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id)
    try:
        view = report.report_page(session(), vault(), current_user.user, access, page_number())
    except report.PageNotFound:
        abort(404)
    return render_template("reports/report.html", report=view)


@bp.get("/subjects/<uuid:subject_id>/export.json")
@login_required
def export_json(subject_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id)
    data = report.export_data(session(), vault(), current_user.user, access)
    return _download(json.dumps(data, ensure_ascii=False, indent=2).encode(), "application/json", "json")


@bp.get("/subjects/<uuid:subject_id>/report.pdf")
@login_required
def export_pdf(subject_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id)
    body = report.issue_report_pdf(
        session(),
        vault(),
        current_user.user,
        access,
        document_signer(),
        lambda printable, number: build_pdf(printable, Stamp(number, verify_url(number))),
    )
    return _download(body, "application/pdf", "pdf")
