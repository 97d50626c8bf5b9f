"""The console's home, the settings in force and the operators' journal."""

from __future__ import annotations

from flask import abort, current_app, render_template
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.admin import proposals
from portal.admin.console import admin_blueprint
from portal.admin.settings import settings
from portal.audit import operator_acts
from portal.audit.names import OPERATOR_ACT_NAMES
from portal.compliance.staff import staff_names
from portal.extensions import session, vault
from portal.institutions.models import Institution
from portal.paging import page_number

bp = admin_blueprint("admin", __name__)


@bp.get("/")
def home():
    s = session()
    staff = dict(
        s.execute(
            select(User.role, func.count())
            .where(User.role.in_([Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR]), User.is_active.is_(True))
            .group_by(User.role)
        ).all()
    )
    return render_template(
        "admin/home.html",
        institutions=s.scalar(select(func.count()).select_from(Institution)) or 0,
        staff={Role(r).value: n for r, n in staff.items()},
        pending=proposals.pending_count(s),
    )


@bp.get("/settings")
def settings_page():
    return render_template("admin/settings.html", settings=settings(current_app.config))


@bp.get("/journal")
def journal():
    page = page_number()
    rows, total = operator_acts.page_of(session(), page)
    pages = max(1, -(-total // operator_acts.PER_PAGE))
    if page > pages:
        abort(404)
    names = staff_names(session(), vault(), (r.actor_user_id for r in rows))
    return render_template(
        "admin/journal.html",
        rows=rows,
        names=names,
        page=page,
        pages=pages,
        total=total,
        endpoint="admin.journal",
        back="admin.home",
        ACT_NAMES=OPERATOR_ACT_NAMES,
    )
