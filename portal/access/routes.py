"""The subject's side of access: who accessed my data (with proofs), the
consents I gave, the query lock. "I did not authorise this" files a
dispute of the access event (portal.disputes). Routes parse and render;
the rules are in the services."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import basis, consents, lock
from portal.access import pages as views
from portal.access.forms import GRANTABLE, PURPOSE_NAMES, AccessFilterForm, ConfirmForm, GrantForm, default_valid_until
from portal.accounts.authz import found, load_of, load_own, load_subject
from portal.accounts.models import DelegationScope
from portal.audit import disclosures
from portal.audit.events import proof_bundle, record_event
from portal.audit.models import AccessEvent, EventKind, Outcome
from portal.audit.names import EVENT_NAMES, STAFF_ROLES
from portal.disputes.models import DisputeReason
from portal.extensions import session, vault
from portal.i18n import local_name
from portal.paging import PAGE
from portal.records.services import view_subject

bp = Blueprint("access", __name__)


# -- who accessed my data --------------------------------------------------------
def _page_of(name: str) -> int:
    """?page=N (the others' list) or ?own=N (the subject's own activity)."""
    raw = request.args.get(name, "1")
    if not PAGE.fullmatch(raw):
        abort(404)
    return int(raw)


@bp.get("/subjects/<uuid:subject_id>/access")
@login_required
def access_log(subject_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id)
    form = AccessFilterForm(request.args)
    institutions, purposes = views.filter_choices(session(), access.subject)
    form.institution.choices = [("", _("Any"))] + [(str(i.id), local_name(i)) for i in institutions]
    form.purpose.choices = [("", _("Any"))] + [(p, str(PURPOSE_NAMES.get(p, p))) for p in purposes]
    filters = views.Filters()
    filtering = any(v for k, v in request.args.items() if k not in ("page", "own"))
    if filtering and form.validate():
        filters = views.Filters(
            uuid.UUID(form.institution.data) if form.institution.data else None,
            form.purpose.data or None,
            Outcome(form.outcome.data) if form.outcome.data else None,
            form.since.data,
            form.until.data,
        )
    try:
        others = views.access_page(session(), vault(), access.subject, filters, _page_of("page"), views.Section.OTHERS)
        own = views.access_page(session(), vault(), access.subject, filters, _page_of("own"), views.Section.OWN)
    except LookupError:
        abort(404)
    record_event(
        session(),
        vault(),
        access.subject,
        EventKind.SELF_QUERY,
        actor_user_id=current_user.id,
        detail={
            "what": "access log",
            "page": others.page,
            "own_page": own.page,
            **({"via_delegation": str(access.delegation.id)} if access.delegation else {}),
        },
    )
    return render_template(
        "access/log.html",
        access=access,
        others=others,
        own=own,
        form=form,
        filtering=filtering,
        EVENT_NAMES=EVENT_NAMES,
        STAFF_ROLES=STAFF_ROLES,
        PURPOSE_NAMES=PURPOSE_NAMES,
        BASIS_NAMES=basis.NAMES,
        # Each list's pager keeps the filters and the other list's page.
        args_others={k: v for k, v in request.args.items() if k != "page"},
        args_own={k: v for k, v in request.args.items() if k != "own"},
        name=view_subject(session(), vault(), access.subject).name,
    )


@bp.get("/subjects/<uuid:subject_id>/access/proofs.json")
@login_required
def proofs(subject_id: uuid.UUID):
    """The proofs of a page's entries in one request: ?event=ID&event=ID..."""
    access = load_subject(session(), current_user.user, subject_id)
    given = request.args.getlist("event")
    try:
        ids = [uuid.UUID(value) for value in given]
    except ValueError:
        abort(400, _("Each event must be an event's id."))
    if len(ids) > views.MAX_PROOFS:
        abort(400, _("Ask for the proofs of at most %(most)d events at a time.", most=views.MAX_PROOFS))
    response = jsonify(
        views.proofs_of(session(), vault(), access.subject, ids) if ids else {"bundles": {}, "waiting": []}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/subjects/<uuid:subject_id>/access/<uuid:event_id>/proof.json")
@login_required
def proof(subject_id: uuid.UUID, event_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id)
    event = load_of(session(), access, AccessEvent, event_id)
    try:
        bundle = proof_bundle(session(), vault(), event)
    except LookupError:  # recorded before the log existed
        abort(404)
    response = jsonify(bundle)
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="access-proof-{bundle["leaf_index"]}.json"'
    return response


@bp.get("/subjects/<uuid:subject_id>/access/<uuid:event_id>/disclosure")
@login_required
def disclosure(subject_id: uuid.UUID, event_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id)
    event = load_of(session(), access, AccessEvent, event_id)
    shown = found(disclosures.disclosure_for_event(session(), vault(), access.subject, event.id))
    return render_template("access/disclosure.html", access=access, event=event, shown=shown)


@bp.route("/subjects/<uuid:subject_id>/access/<uuid:event_id>/complaint", methods=["GET", "POST"])
@login_required
def complaint(subject_id: uuid.UUID, event_id: uuid.UUID):
    """The former "I did not authorise this" address: such a complaint is
    now a dispute of the access event, filed on the disputes' page."""
    access = load_subject(session(), current_user.user, subject_id, DelegationScope.FILE_DISPUTES)
    event = load_of(session(), access, AccessEvent, event_id)
    return redirect(
        url_for("disputes.new", subject_id=subject_id, event=event.id, reason=DisputeReason.UNAUTHORISED_ACCESS.value),
        code=303 if request.method == "POST" else 302,
    )


# -- consents and the lock -------------------------------------------------------
@bp.route("/subjects/<uuid:subject_id>/consents", methods=["GET", "POST"])
@login_required
def consent_list(subject_id: uuid.UUID):
    access = load_own(session(), current_user.user, subject_id)
    institutions = consents.grantable_institutions(session(), GRANTABLE)
    form = GrantForm()
    # Each institution with the purposes it may be authorised for, so that no
    # pair is offered only to be refused.
    comma = _(", ")  # a list's separator, as the language writes it
    form.institution.choices = [("", _("Choose…"))] + [
        (
            str(i.id),
            _(
                "%(institution)s (for: %(purposes)s)",
                institution=local_name(i),
                purposes=comma.join(str(PURPOSE_NAMES.get(p, p)) for p in i.allowed_purposes if p in GRANTABLE),
            ),
        )
        for i in institutions
    ]
    if request.method == "GET":
        form.valid_until.data = default_valid_until()
    if form.validate_on_submit():
        # One of the choices: the form accepts no other.
        institution = next(i for i in institutions if str(i.id) == form.institution.data)
        try:
            consents.grant(
                session(),
                vault(),
                access.subject,
                institution,
                form.purpose.data,
                form.valid_until.data,
                current_user.user,
            )
        except consents.ConsentError as exc:
            field = form.valid_until if exc.field == "valid_until" else form.purpose
            field.errors.append(exc.translated())
        else:
            flash(_("Authority granted."), "success")
            return redirect(url_for("access.consent_list", subject_id=subject_id))
    return render_template(
        "access/consents.html",
        access=access,
        form=form,
        confirm=ConfirmForm(),
        grants=consents.list_for_subject(session(), vault(), access.subject),
        contracts=consents.existing_contracts(session(), access.subject),
        PURPOSE_NAMES=PURPOSE_NAMES,
    )


@bp.route("/subjects/<uuid:subject_id>/consents/<uuid:consent_id>/revoke", methods=["GET", "POST"])
@login_required
def consent_revoke(subject_id: uuid.UUID, consent_id: uuid.UUID):
    """Revoking is final: the list's link opens a page to check what is
    revoked, whose button posts here."""
    access = load_own(session(), current_user.user, subject_id)
    grant = found(
        next((g for g in consents.list_for_subject(session(), vault(), access.subject) if g.id == consent_id), None)
    )
    form = ConfirmForm()
    if request.method == "POST":
        if form.validate_on_submit():
            found(consents.revoke(session(), vault(), access.subject, consent_id, current_user.user))
            flash(_("Authority revoked. It no longer allows any query."), "success")
        return redirect(url_for("access.consent_list", subject_id=subject_id))
    if grant.status != "live":
        flash(_("This authority is no longer in force: there is nothing to revoke."), "warning")
        return redirect(url_for("access.consent_list", subject_id=subject_id))
    return render_template(
        "access/revoke_consent.html", access=access, grant=grant, form=form, PURPOSE_NAMES=PURPOSE_NAMES
    )


@bp.post("/subjects/<uuid:subject_id>/lock")
@login_required
def toggle_lock(subject_id: uuid.UUID):
    access = load_own(session(), current_user.user, subject_id)
    wanted = request.form.get("state")
    if ConfirmForm().validate_on_submit() and wanted in ("locked", "unlocked"):
        # The form says which state it wants, so sending it twice changes nothing more.
        if wanted == "locked":
            lock.set_lock(session(), vault(), access.subject, current_user.user)
            flash(_("Your file is locked: institutions' queries are refused (court enforcement excepted)."), "success")
        else:
            lock.release_lock(session(), vault(), access.subject, current_user.user)
            flash(_("Your file is unlocked."), "success")
    return redirect(url_for("access.consent_list", subject_id=subject_id))
