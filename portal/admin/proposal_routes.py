"""The two-person rule's pages: proposals waiting and decided, proposing a
key rotation or an erasure, and deciding. Deciding needs the password again
within a few minutes (REAUTH_MINUTES), as other sensitive changes do."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.admin import proposals
from portal.admin.console import admin_blueprint, me
from portal.admin.errors import Refused
from portal.admin.forms import DecisionForm, EraseSubjectForm, RotateKeysForm
from portal.admin.models import Proposal, ProposalAction
from portal.admin.staff_routes import invitation_link
from portal.compliance.staff import staff_names
from portal.extensions import session, vault
from portal.paging import page_number
from portal.records.identifiers import InvalidIdentifier
from portal.records.models import SubjectKind
from portal.records.services import Ambiguous, find_by_identifier

bp = admin_blueprint("admin_proposals", __name__)


def _names():
    cache: dict[uuid.UUID, str] = {}

    def name(user_id: uuid.UUID) -> str:
        if user_id not in cache:
            cache.update(staff_names(session(), vault(), [user_id]))
        return cache.get(user_id) or _("(an invitee)")

    return name


@bp.get("/proposals")
def index():
    try:
        page = proposals.proposals_page(session(), vault(), page_number(), _names())
    except LookupError:
        abort(404)
    return render_template(
        "admin/proposals.html",
        page=page,
        rotate_form=RotateKeysForm(formdata=None, prefix="rotate"),
        erase_form=EraseSubjectForm(formdata=None, prefix="erase"),
    )


def _index_with(status: int, **forms):
    page = proposals.proposals_page(session(), vault(), 1, _names())
    blank = dict(
        rotate_form=RotateKeysForm(formdata=None, prefix="rotate"),
        erase_form=EraseSubjectForm(formdata=None, prefix="erase"),
    )
    blank.update(forms)
    return render_template("admin/proposals.html", page=page, **blank), status


@bp.post("/proposals/rotate-keys")
def propose_rotation():
    form = RotateKeysForm(prefix="rotate")
    if not form.validate_on_submit():
        return _index_with(400, rotate_form=form)
    try:
        p = proposals.propose(session(), me(), ProposalAction.ROTATE_KEK, reason=form.reason.data)
    except Refused as exc:
        form.form_errors.append(str(exc))
        return _index_with(409, rotate_form=form)
    flash(_("Proposed: a second administrator must approve it within 24 hours."), "success")
    return redirect(url_for("admin_proposals.proposal", proposal_id=p.id))


@bp.post("/proposals/erase-subject")
def propose_erasure():
    form = EraseSubjectForm(prefix="erase")
    if not form.validate_on_submit():
        return _index_with(400, erase_form=form)
    try:
        subject = find_by_identifier(
            session(), vault(), form.identifier.data.strip(), SubjectKind(form.kind.data) if form.kind.data else None
        )
    except (InvalidIdentifier, Ambiguous) as exc:
        form.identifier.errors.append(str(exc))
        return _index_with(400, erase_form=form)
    if subject is None:
        form.identifier.errors.append(_("No subject with this identifier is on file."))
        return _index_with(400, erase_form=form)
    try:
        p = proposals.propose(session(), me(), ProposalAction.ERASE_SUBJECT, reason=form.reason.data, subject=subject)
    except Refused as exc:
        form.form_errors.append(str(exc))
        return _index_with(409, erase_form=form)
    flash(_("Proposed: a second administrator must approve it within 24 hours."), "success")
    return redirect(url_for("admin_proposals.proposal", proposal_id=p.id))


def _fresh() -> bool:
    return current_user.is_fresh_within(timedelta(minutes=current_app.config["REAUTH_MINUTES"]))


def _show(p: Proposal, form: DecisionForm | None = None, status: int = 200):
    name = _names()
    return render_template(
        "admin/proposal.html",
        p=p,
        state=proposals.ProposalState.EXPIRED if proposals.is_expired(p) else p.state,
        proposer=name(p.proposed_by_id),
        decider=name(p.decided_by_id) if p.decided_by_id else None,
        target=name(p.target_user_id) if p.target_user_id else None,
        mine=p.proposed_by_id == me().id,
        form=form or DecisionForm(formdata=None),
    ), status


@bp.get("/proposals/<uuid:proposal_id>")
def proposal(proposal_id: uuid.UUID):
    p = session().get(Proposal, proposal_id)
    if p is None:
        abort(404)
    return _show(p)


@bp.post("/proposals/<uuid:proposal_id>")
def decide(proposal_id: uuid.UUID):
    p = proposals.load_for_decision(session(), proposal_id)
    if p is None:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _show(p, form, 400)
    if form.approve.data:
        if not form.confirm.data:
            form.confirm.errors.append(_("Tick the box to confirm you have checked the proposal."))
            return _show(p, form, 400)
        if not _fresh():
            return redirect(
                url_for("accounts.reauthenticate", next=url_for("admin_proposals.proposal", proposal_id=p.id))
            )
    try:
        if form.approve.data:
            proposals.approve(session(), vault(), me(), p, link=invitation_link)
            flash(_("Approved and carried out."), "success")
        else:
            proposals.reject(session(), me(), p, form.note.data or "")
            flash(_("The proposal was closed without being carried out."), "success")
    except Refused as exc:
        form.form_errors.append(str(exc))
        return _show(p, form, 409)
    return redirect(url_for("admin_proposals.proposal", proposal_id=p.id))
