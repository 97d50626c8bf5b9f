"""The subject's own credit file: dashboard, report, exports."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("records", __name__)


@bp.get("/me")
@login_required
def dashboard():
    return render_template("records/dashboard.html")
