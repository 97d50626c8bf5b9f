"""A firm's agents: its representative invites, lists and revokes them, and
an invited agent accepts by a link. Routes parse and render; the rules are
in `delegation`."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.accounts import delegation
from portal.accounts.authz import found, load_represented_firm
from portal.accounts.forms import AcceptInvitationForm, ConfirmForm, InviteForm
from portal.accounts.services import AccountExists, WeakPassword
from portal.extensions import limiter, session, vault
from portal.localtime import today as local_today

bp = Blueprint("agents", __name__)


@bp.route("/firms/<uuid:firm_id>/agents", methods=["GET", "POST"])
@login_required
def index(firm_id: uuid.UUID):
    firm = load_represented_firm(session(), current_user.user, firm_id)
    form = InviteForm()
    if request.method == "GET":
        form.valid_until.data = local_today() + timedelta(days=365)
    if form.validate_on_submit():
        delegation.invite(
            session(),
            vault(),
            current_user.user,
            firm,
            email=form.email.data,
            scopes=form.scopes.data,
            valid_until=form.valid_until.data,
            link=lambda token: url_for("agents.accept_invitation", token=token, _external=True),
        )
        flash(_("Invitation sent."), "success")
        return redirect(url_for("agents.index", firm_id=firm_id))
    agent_list, pending = delegation.firm_agents(session(), vault(), firm)
    return render_template(
        "accounts/agents.html", form=form, agents=agent_list, pending=pending, firm_id=firm_id, confirm=ConfirmForm()
    )


@bp.route("/firms/<uuid:firm_id>/agents/<uuid:delegation_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(firm_id: uuid.UUID, delegation_id: uuid.UUID):
    """Revoking is final: the list's link opens a page to check whose
    access ends, whose button posts here."""
    firm = load_represented_firm(session(), current_user.user, firm_id)
    agent = found(delegation.agent_of(session(), vault(), firm, delegation_id))
    form = ConfirmForm()
    if request.method == "POST":
        if form.validate_on_submit() and delegation.revoke(session(), vault(), current_user.user, firm, delegation_id):
            flash(_("The agent's access was revoked."), "success")
        return redirect(url_for("agents.index", firm_id=firm_id))
    if not agent.live:
        flash(_("This agent's authority has already ended: there is nothing to revoke."), "warning")
        return redirect(url_for("agents.index", firm_id=firm_id))
    return render_template("accounts/revoke_agent.html", agent=agent, firm_id=firm_id, form=form)


@bp.post("/firms/<uuid:firm_id>/invitations/<uuid:invitation_id>/cancel")
@login_required
def cancel_invitation(firm_id: uuid.UUID, invitation_id: uuid.UUID):
    firm = load_represented_firm(session(), current_user.user, firm_id)
    if ConfirmForm().validate_on_submit() and delegation.cancel_invitation(
        session(), vault(), current_user.user, firm, invitation_id
    ):
        flash(_("The invitation was cancelled."), "success")
    return redirect(url_for("agents.index", firm_id=firm_id))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def accept_invitation(token: str):
    try:
        inv = delegation.open_invitation(session(), token)
    except delegation.InvitationInvalid:
        return render_template("accounts/invitation_invalid.html"), 404
    email = delegation.invitation_email(session(), vault(), inv)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            delegation.accept(session(), vault(), inv, display=form.display_name.data, password=form.password.data)
        except WeakPassword as exc:
            form.password.errors.append(str(exc))
        except AccountExists as exc:
            form.form_errors.append(str(exc))
        else:
            flash(_("You can now act for the firm. Please sign in: you will then set up two-step sign-in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/accept_invitation.html", form=form, email=email)
