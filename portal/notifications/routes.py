"""The in-app inbox, and in demo mode the operator's view of the outbox."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from portal.extensions import session, vault
from portal.notifications import services

bp = Blueprint("notifications", __name__)
PAGE = 20


@bp.app_context_processor
def _unread():
    if not current_user.is_authenticated:
        return {}
    unread = getattr(current_user, "unread_messages", None)  # read with the session
    if unread is None:
        unread = current_user.unread_messages = services.unread_count(session(), current_user.user)
    return {"unread_messages": unread}


@bp.get("/messages")
@login_required
def inbox():
    page = request.args.get("page", 1, type=int)
    page = max(page, 1)
    messages, total = services.inbox(session(), vault(), current_user.user, (page - 1) * PAGE, PAGE)
    services.mark_read(session(), current_user.user)
    current_user.unread_messages = 0  # the menu shows them read
    return render_template("notifications/inbox.html", messages=messages, page=page, pages=max(1, -(-total // PAGE)))


@bp.get("/demo/outbox")
def demo_outbox():
    """Demo only, and only from this machine: where activation codes and
    invitations can be read when no mail server is configured."""
    if not current_app.config["DEMO_MODE"] or request.remote_addr not in ("127.0.0.1", "::1"):
        abort(404)
    return render_template("notifications/outbox.html", messages=services.outbox(session(), vault()))
