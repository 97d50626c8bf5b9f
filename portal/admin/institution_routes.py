"""Institutions in the operator console."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from portal.admin.console import admin_blueprint
from portal.extensions import session
from portal.institutions.models import Institution

bp = admin_blueprint("admin_institutions", __name__)


@bp.get("/institutions")
def index():
    rows = session().scalars(select(Institution).order_by(Institution.code)).all()
    return render_template("admin/institutions.html", rows=rows)
