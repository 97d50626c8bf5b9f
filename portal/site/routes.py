"""Public pages that belong to no area: home and language."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask_login import current_user

from portal.i18n import COOKIE, LOCALES
from portal.redirects import safe_next

bp = Blueprint("site", __name__)


@bp.get("/")
def index():
    return render_template("site/index.html")


@bp.get("/language/<code>")
def language(code: str):
    response = redirect(safe_next(request.args.get("next")))
    if code in LOCALES:
        if current_user.is_authenticated:
            # The language they read in: what the portal sends them later follows it.
            current_user.user.locale = code
        response.set_cookie(
            COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True, secure=request.is_secure
        )
    return response
