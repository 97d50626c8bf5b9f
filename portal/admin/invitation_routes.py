"""Accepting an invitation to the staff: the link in the e-mail. Public (the
invitee has no session yet); the token is the proof."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.forms import AcceptInvitationForm
from portal.accounts.services import WeakPassword
from portal.admin import staff
from portal.extensions import limiter, session, vault

bp = Blueprint("staff_invitations", __name__)


@bp.route("/staff-invitations/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def accept(token: str):
    try:
        inv = staff.open_invitation(session(), token)
    except staff.InvitationInvalid:
        return render_template("accounts/invitation_invalid.html"), 404
    email = staff.invitation_email(session(), vault(), inv)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            staff.accept(session(), vault(), inv, display=form.display_name.data, password=form.password.data)
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        else:
            flash(_("Your account is open. Sign in, then set up two-step sign-in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/accept_invitation.html", form=form, email=email), (400 if form.errors else 200)
