"""The console's door. Each page module makes its blueprint here, so all
share it: an administrator signed in with a second factor passes;
everyone else, signed in or not, gets 404 (the pages do not exist for
them)."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from portal.accounts.models import Role, User

PREFIX = "/admin"


def _administrators_only() -> None:
    if (
        not current_user.is_authenticated
        or Role(current_user.role) is not Role.ADMINISTRATOR
        or not current_user.user.has_second_factor
    ):
        abort(404)


def admin_blueprint(name: str, import_name: str) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix=PREFIX)
    bp.before_request(_administrators_only)
    return bp


def me() -> User:
    return current_user.user
