"""Staff: invitations, roles, deactivation, conflicts of interest; making
someone an administrator is proposed here and approved on the proposals
page."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.models import Role, User
from portal.accounts.services import AccountExists, display_name, user_email
from portal.admin import proposals, staff
from portal.admin.console import admin_blueprint, me
from portal.admin.errors import Refused
from portal.admin.forms import (
    ActionForm,
    ConflictForm,
    DeactivateForm,
    InviteStaffForm,
    ProposeAdministratorForm,
    RoleForm,
)
from portal.admin.models import ProposalAction
from portal.compliance.conflicts import conflicts_of, declare_conflict, withdraw_conflict
from portal.compliance.policy import CASE_ROLES
from portal.extensions import session, vault
from portal.paging import page_number
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import Subject, SubjectKind
from portal.records.services import Ambiguous, find_by_identifier

bp = admin_blueprint("admin_staff", __name__)


def invitation_link(token: str) -> str:
    return url_for("staff_invitations.accept", token=token, _external=True)


def _member(user_id: uuid.UUID) -> User:
    user = staff.staff_member(session(), user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/staff", methods=["GET", "POST"])
def index():
    form = InviteStaffForm()
    if form.validate_on_submit():
        role = Role(form.role.data)
        reason = (form.reason.data or "").strip()
        if role is Role.ADMINISTRATOR and not reason:
            form.reason.errors.append(_("Give the reason, for the administrator who approves it."))
        else:
            try:
                user, _inv = staff.invite(
                    session(), vault(), me(), email=form.email.data, role=role, link=invitation_link
                )
                if role is Role.ADMINISTRATOR:
                    proposals.propose(session(), me(), ProposalAction.GRANT_ADMINISTRATOR, reason=reason, user=user)
            except AccountExists:
                form.email.errors.append(_("An account with this e-mail address already exists."))
            except Refused as exc:
                form.form_errors.append(str(exc))
            else:
                if role is Role.ADMINISTRATOR:
                    flash(
                        _("The invitation waits for a second administrator's approval; it is sent once approved."),
                        "success",
                    )
                else:
                    flash(_("The invitation was sent to %(email)s.", email=form.email.data), "success")
                return redirect(url_for("admin_staff.member", user_id=user.id))
    try:
        page = staff.staff_page(session(), vault(), page_number())
    except LookupError:
        abort(404)
    return render_template("admin/staff.html", page=page, form=form, ROLE_WORDS=staff.role_words()), (
        400 if form.errors else 200
    )


def _render(user: User, status: int = 200, **forms):
    blank = dict(
        role_form=RoleForm(formdata=None, prefix="role", role=Role(user.role).value),
        admin_form=ProposeAdministratorForm(formdata=None, prefix="admin"),
        deactivate_form=DeactivateForm(formdata=None, prefix="deactivate"),
        action_form=ActionForm(formdata=None),
        conflict_form=ConflictForm(formdata=None, prefix="conflict"),
    )
    blank.update(forms)
    conflicts = conflicts_of(session(), user) if Role(user.role) in CASE_ROLES else []
    return render_template(
        "admin/member.html",
        member=user,
        name=display_name(session(), vault(), user),
        email=user_email(session(), vault(), user),
        invitation=staff.pending_invitation(session(), user),
        conflicts=conflicts,
        is_me=user.id == me().id,
        ROLE_WORDS=staff.role_words(),
        **blank,
    ), status


@bp.get("/staff/<uuid:user_id>")
def member(user_id: uuid.UUID):
    return _render(_member(user_id))


def _act(user: User, form, act, done: str, **render):
    if not form.validate_on_submit():
        return _render(user, 400, **render)
    try:
        act()
    except Refused as exc:
        form.form_errors.append(str(exc))
        return _render(user, 409, **render)
    flash(done, "success")
    return redirect(url_for("admin_staff.member", user_id=user.id))


@bp.post("/staff/<uuid:user_id>/role")
def change_role(user_id: uuid.UUID):
    user = _member(user_id)
    form = RoleForm(prefix="role")
    return _act(
        user,
        form,
        lambda: staff.change_role(session(), me(), user, Role(form.role.data)),
        _("The role was changed; it applies from the next sign-in."),
        role_form=form,
    )


@bp.post("/staff/<uuid:user_id>/administrator")
def propose_administrator(user_id: uuid.UUID):
    user = _member(user_id)
    form = ProposeAdministratorForm(prefix="admin")
    return _act(
        user,
        form,
        lambda: proposals.propose(
            session(), me(), ProposalAction.GRANT_ADMINISTRATOR, reason=form.reason.data, user=user
        ),
        _("Proposed: a second administrator must approve it within 24 hours."),
        admin_form=form,
    )


@bp.post("/staff/<uuid:user_id>/deactivate")
def deactivate(user_id: uuid.UUID):
    user = _member(user_id)
    form = DeactivateForm(prefix="deactivate")
    return _act(
        user,
        form,
        lambda: staff.deactivate(session(), me(), user),
        _("The account was deactivated and signed out everywhere."),
        deactivate_form=form,
    )


@bp.post("/staff/<uuid:user_id>/reactivate")
def reactivate(user_id: uuid.UUID):
    user = _member(user_id)
    form = ActionForm()
    return _act(
        user,
        form,
        lambda: staff.reactivate(session(), me(), user),
        _("The account can sign in again."),
        action_form=form,
    )


@bp.post("/staff/<uuid:user_id>/invitation/withdraw")
def withdraw_invitation(user_id: uuid.UUID):
    user = _member(user_id)
    form = ActionForm()
    return _act(
        user,
        form,
        lambda: staff.withdraw_invitation(session(), me(), user),
        _("The invitation was withdrawn; its link no longer works."),
        action_form=form,
    )


@bp.post("/staff/<uuid:user_id>/conflicts")
def add_conflict(user_id: uuid.UUID):
    user = _member(user_id)
    if Role(user.role) not in CASE_ROLES:
        abort(404)
    form = ConflictForm(prefix="conflict")
    if not form.validate_on_submit():
        return _render(user, 400, conflict_form=form)
    try:
        subject = find_by_identifier(
            session(), vault(), form.identifier.data.strip(), SubjectKind(form.kind.data) if form.kind.data else None
        )
    except (InvalidIdentifier, Ambiguous) as exc:
        form.identifier.errors.append(str(exc))
        return _render(user, 400, conflict_form=form)
    if subject is None:
        form.identifier.errors.append(_("No subject with this identifier is on file."))
        return _render(user, 400, conflict_form=form)
    released = declare_conflict(session(), vault(), user, subject)
    staff.journal(session(), me(), "conflict_recorded", user, subject=str(subject.id), released=released)
    flash(
        _("The conflict was recorded; %(num)d open cases of that subject went back to the queue.", num=released),
        "success",
    )
    return redirect(url_for("admin_staff.member", user_id=user.id))


@bp.post("/staff/<uuid:user_id>/conflicts/<uuid:subject_id>/withdraw")
def remove_conflict(user_id: uuid.UUID, subject_id: uuid.UUID):
    user = _member(user_id)
    subject = session().get(Subject, subject_id)
    form = ActionForm()
    if subject is None or not form.validate_on_submit():
        abort(404 if subject is None else 400)
    if withdraw_conflict(session(), user, subject):
        staff.journal(session(), me(), "conflict_withdrawn", user, subject=str(subject.id))
    flash(_("The conflict was withdrawn."), "success")
    return redirect(url_for("admin_staff.member", user_id=user.id))
