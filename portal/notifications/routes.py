"""The in-app inbox, and on a demo registry the operator's view of the
outbox."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.notifications import services

bp = Blueprint("notifications", __name__)
PAGE = 20

# The codes of the demo's institutions (portal.demo.people.DEMO_INSTITUTIONS;
# the demo sits above this area, and a test keeps the two lists equal).
# Only an operator creates institutions, and no real registry holds all of
# these fictitious ones: a database that does holds the demo's data.
DEMO_INSTITUTION_CODES = frozenset(
    {
        "hengtong-bank",
        "jinqiao-bank",
        "anxin-finance",
        "xiaoyu-microcredit",
        "mingzhou-court",
        "mingzhou-tax",
        "mingzhou-samr",
        "mingzhou-water",
        "mingzhou-power",
        "yunfan-hr",
    }
)


def holds_demo_data(s: Session) -> bool:
    """Whether this database is a demo's: every demo institution is in it."""
    found = s.scalar(
        select(func.count()).select_from(Institution).where(Institution.code.in_(sorted(DEMO_INSTITUTION_CODES)))
    )
    return found == len(DEMO_INSTITUTION_CODES)


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
    """Where activation codes and invitations can be read when no mail
    server is configured: only on a database holding the demo's data
    (however the portal was started), and only from this machine. Never on
    a real registry, whatever its settings."""
    if request.remote_addr not in ("127.0.0.1", "::1") or not holds_demo_data(session()):
        abort(404)
    return render_template("notifications/outbox.html", messages=services.outbox(session(), vault()))
