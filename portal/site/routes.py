"""Public pages that belong to no area: the home page and a health check."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from portal.extensions import session

bp = Blueprint("site", __name__)


@bp.get("/")
def index():
    return render_template("site/index.html")


@bp.get("/healthz")
def health():
    session().execute(text("SELECT 1"))
    return {"status": "ok"}
