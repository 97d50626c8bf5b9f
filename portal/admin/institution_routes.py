"""Institutions in the operator console: the list, a new institution, and
one institution's page: its settings, the suspension of its querying and
its API keys. A new token is shown once, in the answer to the POST that
made it (never through a redirect, so no later page or cache holds it).
Routes never commit: a 4xx answer rolls back (see `register_db`)."""

from __future__ import annotations

import re
import uuid

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.admin import institutions
from portal.admin.console import admin_blueprint, me
from portal.admin.institution_forms import (
    IssueKeyForm,
    LiftForm,
    NewInstitutionForm,
    RevokeKeyForm,
    RotateKeyForm,
    SettingsForm,
    SuspendForm,
)
from portal.audit.names import PURPOSE_NAMES
from portal.compliance import oversight
from portal.extensions import session, vault
from portal.forms import Form
from portal.i18n import shown
from portal.institutions import keys
from portal.institutions.models import ApiKey, ApiScope, Institution, InstitutionKind
from portal.institutions.services import NewInstitution
from portal.paging import page_number
from portal.records.pages import CATEGORY_NAMES

bp = admin_blueprint("admin_institutions", __name__)

KEY_ID = re.compile(r"[0-9a-f]{16}")
NAMES = dict(KIND_NAMES=oversight.KIND_NAMES, PURPOSE_NAMES=PURPOSE_NAMES, CATEGORY_NAMES=CATEGORY_NAMES)


@bp.get("/institutions")
def index():
    try:
        page = institutions.institutions_page(session(), page_number())
    except LookupError:
        abort(404)
    return render_template("admin/institutions.html", page=page, **NAMES)


@bp.route("/institutions/new", methods=["GET", "POST"])
def new():
    form = NewInstitutionForm()
    if form.validate_on_submit():
        data = NewInstitution(
            code=form.code.data,
            name=form.name.data,
            name_en=form.name_en.data,
            kind=InstitutionKind(form.kind.data),
            allowed_purposes=list(form.purposes.data or []),
            contact_name=form.contact_name.data,
            contact_email=form.contact_email.data,
            query_hours=form.hours(),
        )
        try:
            created = institutions.create(session(), vault(), data, form.chosen_categories(), actor=me(), channel="web")
        except institutions.SettingsRefused as exc:
            getattr(form, exc.field).errors.append(shown(exc))
        else:
            flash(_("The institution was created. Issue it an API key below."), "success")
            return redirect(url_for(".institution", institution_id=created.id))
    return render_template("admin/institution_new.html", form=form), (400 if form.errors else 200)


def _institution(institution_id: uuid.UUID, for_update: bool = False) -> Institution:
    found = institutions.load(session(), institution_id, for_update=for_update)
    if found is None:
        abort(404)
    return found


def _key(institution: Institution, key_id: str) -> ApiKey:
    """One of its keys; another institution's, or none, is 404."""
    if not KEY_ID.fullmatch(key_id):
        abort(404)
    try:
        return keys.find_key(session(), key_id, institution)
    except keys.ApiKeyError:
        abort(404)


def _render(
    institution: Institution,
    status: int = 200,
    *,
    token: str | None = None,
    token_key: ApiKey | None = None,
    key_forms: dict[str, Form] | None = None,
    **forms,
):
    """The institution's page. `forms` replace the blank ones (a refused
    form with its errors and what was typed); `key_forms` the rotate or
    revoke form of one key, by key id; `token` is a token just made, shown
    this once."""
    contact = institutions.contact_of(session(), vault(), institution)
    seen = oversight.last_step(session(), institution)
    blank = dict(
        settings_form=SettingsForm(
            formdata=None,
            prefix="settings",
            contact_name=contact.name,
            contact_email=contact.email,
            purposes=list(institution.allowed_purposes),
            furnishes=SettingsForm.furnishes_of(institution.allowed_categories),
            categories=list(institution.allowed_categories or []),
        ),
        suspension_form=(SuspendForm if institution.suspended_at is None else LiftForm)(
            formdata=None, prefix="suspension", seen=seen
        ),
        issue_form=IssueKeyForm(formdata=None, prefix="issue"),
    )
    blank.update(forms)
    listed = keys.keys_of(session(), institution)
    per_key = {
        k.key_id: (
            RotateKeyForm(formdata=None, prefix=f"rotate-{k.key_id}"),
            RevokeKeyForm(formdata=None, prefix=f"revoke-{k.key_id}"),
        )
        for k in listed
        if k.revoked_at is None
    }
    for key_id, form in (key_forms or {}).items():
        if key_id in per_key:
            rotate, revoke = per_key[key_id]
            per_key[key_id] = (form, revoke) if isinstance(form, RotateKeyForm) else (rotate, form)
    return render_template(
        "admin/institution.html",
        i=institution,
        contact=contact,
        keys=listed,
        key_forms=per_key,
        token=token,
        token_key=token_key,
        suspending=isinstance(blank["suspension_form"], SuspendForm),
        **blank,
        **NAMES,
    ), status


@bp.get("/institutions/<uuid:institution_id>")
def institution(institution_id: uuid.UUID):
    return _render(_institution(institution_id))


def _back(institution: Institution):
    return redirect(url_for(".institution", institution_id=institution.id))


@bp.post("/institutions/<uuid:institution_id>/settings")
def settings(institution_id: uuid.UUID):
    found = _institution(institution_id, for_update=True)
    form = SettingsForm(prefix="settings")
    if not form.validate_on_submit():
        return _render(found, 400, settings_form=form)
    try:
        changed = institutions.change(
            session(),
            vault(),
            found,
            contact=institutions.Contact(form.contact_name.data, form.contact_email.data),
            purposes=form.purposes.data or [],
            categories=form.chosen_categories(),
            actor=me(),
            channel="web",
        )
    except institutions.SettingsRefused as exc:
        getattr(form, exc.field).errors.append(shown(exc))
        return _render(found, 400, settings_form=form)
    if changed:
        flash(_("The settings were saved; the API applies them from its next request."), "success")
    else:
        flash(_("Nothing was changed: the settings were already so."), "info")
    return _back(found)


def _suspension(institution_id: uuid.UUID, suspending: bool):
    """Suspend or lift: refused when already so, or when the page was
    stale (another administrator or a supervisor acted since it was
    shown); the form shown again when invalid."""
    found = _institution(institution_id, for_update=True)
    form = (SuspendForm if suspending else LiftForm)(prefix="suspension")
    if (found.suspended_at is not None) == suspending:
        form.form_errors.append(
            _("This institution is already suspended: nothing was changed.")
            if suspending
            else _("This institution is not suspended: nothing was changed.")
        )
        return _render(found, 409, suspension_form=form)
    if not form.validate_on_submit():
        return _render(found, 400, suspension_form=form)
    act = institutions.suspend if suspending else institutions.lift
    try:
        act(session(), found, me(), form.reason.data, form.seen.data)
    except oversight.StaleSuspension:
        form.form_errors.append(
            _(
                "The suspension changed since you opened the page (someone else acted): nothing was changed. "
                "Check its state, then act again if you still need to."
            )
        )
        return _render(found, 409, suspension_form=form)
    flash(
        _("Its report queries are now refused, with your reason, until the suspension is lifted.")
        if suspending
        else _("The suspension is lifted: its report queries are answered again."),
        "success",
    )
    return _back(found)


@bp.post("/institutions/<uuid:institution_id>/suspend")
def suspend(institution_id: uuid.UUID):
    return _suspension(institution_id, True)


@bp.post("/institutions/<uuid:institution_id>/lift")
def lift(institution_id: uuid.UUID):
    return _suspension(institution_id, False)


@bp.post("/institutions/<uuid:institution_id>/keys")
def issue_key(institution_id: uuid.UUID):
    found = _institution(institution_id)
    form = IssueKeyForm(prefix="issue")
    if not form.validate_on_submit():
        return _render(found, 400, issue_form=form)
    scopes = [ApiScope(s) for s in sorted(set(form.scopes.data))]
    try:
        key, token = keys.issue_key(session(), found, scopes, actor_id=me().id, channel="web")
    except keys.UselessScope:
        form.scopes.errors.append(
            _("It may not query for any purpose: a query key would be refused everything.")
            if ApiScope.QUERY in scopes and not found.allowed_purposes
            else _("It may not furnish any category: a furnish key would be refused everything.")
        )
        return _render(found, 400, issue_form=form)
    return _render(found, token=token, token_key=key)


@bp.post("/institutions/<uuid:institution_id>/keys/<key_id>/rotate")
def rotate_key(institution_id: uuid.UUID, key_id: str):
    found = _institution(institution_id)
    old = _key(found, key_id)
    form = RotateKeyForm(prefix=f"rotate-{key_id}")
    if old.revoked_at is not None:
        form.form_errors.append(_("This key is revoked: it cannot be rotated. Issue a new key instead."))
        return _render(found, 409, key_forms={key_id: form}, refused=form)
    if not form.validate_on_submit():
        return _render(found, 400, key_forms={key_id: form}, refused=form)
    _old, new, token = keys.rotate_key(session(), key_id, actor_id=me().id, channel="web", institution=found)
    return _render(found, token=token, token_key=new)


@bp.post("/institutions/<uuid:institution_id>/keys/<key_id>/revoke")
def revoke_key(institution_id: uuid.UUID, key_id: str):
    found = _institution(institution_id)
    key = _key(found, key_id)
    form = RevokeKeyForm(prefix=f"revoke-{key_id}")
    if key.revoked_at is not None:
        form.form_errors.append(_("This key is already revoked: nothing was changed."))
        return _render(found, 409, key_forms={key_id: form}, refused=form)
    if not form.validate_on_submit():
        return _render(found, 400, key_forms={key_id: form}, refused=form)
    keys.revoke_key(session(), key_id, actor_id=me().id, channel="web", institution=found)
    flash(_("The key %(key)s was revoked: it is refused from now on.", key=key_id), "success")
    return _back(found)
