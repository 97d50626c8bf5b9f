"""The compliance console under /compliance: statistics, alerts,
institution oversight and the supervisors' view. Each page module makes its
blueprint here, so all share one door: officers and supervisors only,
everyone else gets 404 (the pages do not exist for them); what only
supervisors do is marked with `supervisors_only`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort
from flask_login import current_user

from portal.accounts.models import Role, User
from portal.compliance import policy

PREFIX = "/compliance"


def _staff_only() -> None:
    if not current_user.is_authenticated or not policy.is_staff(current_user):
        abort(404)


def console_blueprint(name: str, import_name: str) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix=PREFIX)
    bp.before_request(_staff_only)
    return bp


def me() -> User:
    return current_user.user


def is_supervisor(user: Any) -> bool:
    return Role(user.role) is Role.SUPERVISOR


def supervisors_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page or action for supervisors; an officer gets 404, as for any
    page that is not theirs."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_supervisor(current_user):
            abort(404)
        return view(*args, **kwargs)

    wrapped.supervisors_only = True  # type: ignore[attr-defined]  # read by the isolation tests
    return wrapped
