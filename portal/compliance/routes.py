"""The officers' side of disputes: the queue and the case page. Staff only:
everyone else gets 404 for every page here. Routes parse and render; who
may do what is `policy`, the actions are services that enforce it and undo
their own writes when refused."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from portal.audit.names import EVENT_NAMES
from portal.compliance import actions, assignment, conflicts, notes, pages, policy
from portal.compliance import queue as case_queue
from portal.compliance.case_forms import SendForm, case_forms, decision_form, send_form, setup_decision
from portal.compliance.forms import (
    ANSWER_NAMES,
    KIND_NAMES,
    MOVE_LABELS,
    REASON_NAMES,
    STATUS_NAMES,
    STEP_NAMES,
    AssignForm,
    ExtendForm,
    MoveForm,
    NoteForm,
    QueueFilterForm,
    RecuseForm,
    RevealForm,
    ShareForm,
    TakeForm,
    choices,
)
from portal.compliance.policy import Act
from portal.compliance.reveal import evidence_file, record_case_view
from portal.compliance.reveal import reveal as reveal_subject
from portal.db import keep_refused_attempt
from portal.disputes import decisions, sharing
from portal.disputes import evidence as ev
from portal.disputes.decisions import OUTCOME_NAMES
from portal.disputes.lifecycle import DisputeError, StaleDispute
from portal.disputes.models import Dispute, DisputeReason, DisputeStatus
from portal.extensions import session, vault
from portal.i18n import local_name, shown
from portal.paging import page_number
from portal.records.models import Subject

bp = Blueprint("officer", __name__, url_prefix="/officer")

NAMES = dict(
    STATUS_NAMES=STATUS_NAMES,
    REASON_NAMES=REASON_NAMES,
    KIND_NAMES=KIND_NAMES,
    STEP_NAMES=STEP_NAMES,
    ANSWER_NAMES=ANSWER_NAMES,
    MOVE_LABELS=MOVE_LABELS,
    OUTCOME_NAMES=OUTCOME_NAMES,
    EVENT_NAMES=EVENT_NAMES,
)


@bp.before_request
def _staff_only():
    """Not signed in, or not an officer or supervisor: these pages do not
    exist (administrators run the system, not cases)."""
    if not current_user.is_authenticated or not policy.is_staff(current_user):
        abort(404)


def _me():
    return current_user.user


def _case(dispute_id: uuid.UUID) -> Dispute:
    try:
        return policy.load_case(session(), _me(), dispute_id)
    except policy.CaseNotFound:
        abort(404)


# -- the queue ---------------------------------------------------------------------------
@bp.get("/cases")
def queue():
    # A GET writes nothing: the deadline sweep runs in `portal serve`'s
    # thread and `portal disputes expire`, not here.
    form = QueueFilterForm(request.args)
    form.institution.choices = choices(
        [("", _("Any"))] + [(str(i.id), local_name(i)) for i in case_queue.furnisher_choices(session())]
    )
    filters = case_queue.QueueFilters()
    if form.validate():
        filters = case_queue.QueueFilters(
            status=form.status.data or "open",
            reason=DisputeReason(form.reason.data) if form.reason.data else None,
            institution_id=uuid.UUID(form.institution.data) if form.institution.data else None,
            assigned=form.assigned.data or None,
        )
    try:
        page = case_queue.queue(session(), vault(), _me(), filters, page_number())
    except LookupError:
        abort(404)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("compliance/queue.html", form=form, page=page, args=args, filters=filters, **NAMES)


# -- the case page -------------------------------------------------------------------------
def _render(
    dispute: Dispute,
    status: int = 200,
    given: dict[str, Any] | None = None,
    stale: bool = False,
    error: str | None = None,
    revealed=None,
):
    view = pages.case_view(session(), vault(), dispute, _me())
    record_case_view(session(), vault(), dispute, _me())
    if status >= 400:
        # The refused action left nothing (its savepoint rolled back), but the
        # officer sees the case again: that view's access event stays.
        keep_refused_attempt(session())
    forms, made = case_forms(session(), view, given or {}, stale)
    # A form sent from a page the viewer no longer gets (the case moved on,
    # or never theirs): its errors go at the top, where they are seen.
    hidden = [
        message
        for name, form in (given or {}).items()
        if name not in made
        for messages in form.errors.values()
        for message in messages
    ]
    error = " ".join(filter(None, [error, *hidden])) or None
    return render_template(
        "compliance/case.html", view=view, forms=forms, stale=stale, error=error, revealed=revealed, **NAMES
    ), status


@bp.get("/cases/<uuid:dispute_id>")
def case(dispute_id: uuid.UUID):
    return _render(_case(dispute_id))


def _refused(dispute_id: uuid.UUID, name: str, form, exc: DisputeError, field: str | None):
    """The page comes back as the case is now, with what was typed (the
    refused action left nothing: the services see to it)."""
    dispute = _case(dispute_id)
    if isinstance(exc, StaleDispute):
        return _render(dispute, 409, {name: form}, stale=True)
    if isinstance(exc, policy.NotAssigned):
        return _render(dispute, 403, error=shown(exc))
    if field is not None:
        form[field].errors.append(shown(exc))
        return _render(dispute, 200, {name: form})
    return _render(dispute, 200, {name: form}, error=shown(exc))


def _act(
    dispute_id: uuid.UUID,
    name: str,
    cls,
    action,
    done: str,
    field: str | None = None,
    act: Act | None = None,
    setup=None,
):
    """Validate the form named `name`, run `action(dispute, form)`, and
    come back to the case page: redirected with `done` on success,
    re-rendered with the form's data and the error otherwise. For an `act`
    only the holder may do, anyone else is refused before their form is
    read."""
    dispute = _case(dispute_id)
    if act is not None and (refusal := policy.act_refusal(_me(), dispute, act)) is not None:
        return _render(dispute, 403, error=shown(refusal))
    form = cls(prefix=name)
    if setup is not None:
        setup(dispute, form)
    if not form.validate_on_submit():
        return _render(dispute, 200, {name: form})
    try:
        result = action(dispute, form)
    except DisputeError as exc:
        return _refused(dispute_id, name, form, exc, field)
    if isinstance(result, (Response, tuple)):
        return result
    flash(done, "success")
    return redirect(url_for(".case", dispute_id=dispute_id))


@bp.post("/cases/<uuid:dispute_id>/take")
def take(dispute_id: uuid.UUID):
    return _act(
        dispute_id,
        "take",
        TakeForm,
        lambda d, f: assignment.assign(session(), vault(), d, _me(), expected_version=f.lock_version.data),
        _("The case is assigned to you."),
    )


@bp.post("/cases/<uuid:dispute_id>/assign")
def assign(dispute_id: uuid.UUID):
    def setup(dispute, form):
        form.officer.choices = choices(
            (str(i), name) for i, name, _role in assignment.assignable_officers(session(), vault())
        )

    def action(dispute, form):
        assignment.assign_to(
            session(), vault(), dispute, _me(), uuid.UUID(form.officer.data), expected_version=form.lock_version.data
        )

    return _act(dispute_id, "assign", AssignForm, action, _("The case is assigned."), field="officer", setup=setup)


@bp.post("/cases/<uuid:dispute_id>/move/<to>")
def move(dispute_id: uuid.UUID, to: str):
    try:
        status = DisputeStatus(to)
    except ValueError:
        abort(404)
    if status not in policy.MOVE_ACTS:  # resolving is a decision, withdrawing the subject's
        abort(404)
    if status is DisputeStatus.WAITING_FOR_FURNISHER:
        return _send(dispute_id)
    return _act(
        dispute_id,
        f"move-{status.value}",
        MoveForm,
        lambda d, f: actions.move(
            session(), vault(), d, _me(), status, f.note.data, expected_version=f.lock_version.data
        ),
        _("The case is now: %(status)s.", status=STATUS_NAMES[status]),
        field="note",
        act=policy.MOVE_ACTS[status],
    )


def _cipher(dispute: Dispute):
    return vault().cipher(session(), session().get_one(Subject, dispute.subject_id).data_key_id)


def _send(dispute_id: uuid.UUID):
    """Send the case to its furnishers with every file, but those the
    officer holds back (saying why)."""
    status = DisputeStatus.WAITING_FOR_FURNISHER
    dispute = _case(dispute_id)
    cipher = _cipher(dispute)
    pending = sharing.pending(session(), cipher, dispute)
    names = {e.id: e.label for e in pages.evidence_views(session(), vault(), dispute)}
    form_class = send_form(pending, names, len(sharing.case_furnishers(session(), dispute.id)) == 1)

    def action(dispute, form):
        holds = form.holds() if isinstance(form, SendForm) else {}
        plan = sharing.plan_send(session(), cipher, dispute, holds)
        sharing.send_case(
            session(),
            cipher,
            _me(),
            plan,
            lambda: actions.move(
                session(), vault(), dispute, _me(), status, form.note.data, expected_version=form.lock_version.data
            ),
        )
        went = len({p.evidence_id for p, reason in plan if reason is None})
        held = len({p.evidence_id for p, reason in plan if reason is not None})
        done = _("The case is now: %(status)s.", status=STATUS_NAMES[status])
        if went:
            done += " " + ngettext("%(num)d file went with it.", "%(num)d files went with it.", went)
        if held:
            done += " " + ngettext(
                "%(num)d file was held back from a furnisher.", "%(num)d files were held back from a furnisher.", held
            )
        flash(done, "success")
        return redirect(url_for(".case", dispute_id=dispute_id))

    return _act(dispute_id, f"move-{status.value}", form_class, action, "", field="note", act=policy.MOVE_ACTS[status])


@bp.post("/cases/<uuid:dispute_id>/extend")
def extend(dispute_id: uuid.UUID):
    return _act(
        dispute_id,
        "extend",
        ExtendForm,
        lambda d, f: actions.extend_deadline(
            session(), vault(), d, _me(), f.days.data, f.reason.data, expected_version=f.lock_version.data
        ),
        _("The deadline is extended."),
        field="reason",
        act=Act.EXTEND,
    )


@bp.post("/cases/<uuid:dispute_id>/decide")
def decide(dispute_id: uuid.UUID):
    """The decision form leads to a page that shows the decision and the
    letter as the subject will read it; only "Confirm and send" there makes
    it final, and "Change" brings the form back with the choices kept."""
    case = _case(dispute_id)
    outcomes = actions.outcomes(case)
    points = decisions.starting_points(session(), vault(), case) if policy.can_decide(_me(), case) else []

    def setup(dispute, form):
        setup_decision(form, outcomes)

    def action(dispute, form):
        if form.change.data:
            return _render(dispute, 200, {"decide": form})
        outcome, per_record = form.decision()
        given = dict(
            expected_version=form.lock_version.data,
            per_record=per_record,
            unverifiable_policy=current_app.config["UNVERIFIABLE_POLICY"],
        )
        try:
            if form.confirm.data:
                return actions.decide(session(), vault(), dispute, _me(), outcome, form.reason.data, **given)
            letter = decisions.preview(session(), vault(), dispute, _me(), outcome, form.reason.data, **given)
        except decisions.RecordRefused as exc:
            name = "record" if exc.part == "outcome" else "why"
            target = form._fields.get(f"{name}_{exc.record_id.hex}") or form[f"record_{exc.record_id.hex}"]
            target.errors = [*target.errors, shown(exc)]
            return _render(dispute, 200, {"decide": form})
        record_case_view(session(), vault(), dispute, _me())
        return render_template(
            "compliance/decision_check.html",
            d=dispute,
            form=form,
            letter=letter,
            points={p.record_id: p for p in form.points},
            **NAMES,
        ), 200

    return _act(
        dispute_id,
        "decide",
        decision_form(session(), case, points),
        action,
        _("The case is decided; the subject has been told."),
        setup=setup,
        act=Act.DECIDE,
    )


@bp.post("/cases/<uuid:dispute_id>/evidence/<uuid:evidence_id>/share")
def share(dispute_id: uuid.UUID, evidence_id: uuid.UUID):
    try:
        policy.load_file(session(), _case(dispute_id), evidence_id)
    except policy.CaseNotFound:
        abort(404)

    def setup(dispute, form):
        form.furnishers.choices = choices(
            (str(i.id), local_name(i)) for i in actions.case_furnishers(session(), dispute)
        )

    def action(dispute, form):
        added = actions.share_evidence(
            session(),
            dispute,
            _me(),
            evidence_id,
            [uuid.UUID(i) for i in form.furnishers.data],
            expected_version=form.lock_version.data,
        )
        flash(
            _("The file goes to: %(names)s.", names=", ".join(local_name(i) for i in added))
            if added
            else _("The file already went to them."),
            "success",
        )
        return redirect(url_for(".case", dispute_id=dispute_id))

    return _act(
        dispute_id, f"share-{evidence_id.hex}", ShareForm, action, "", field="furnishers", setup=setup, act=Act.SHARE
    )


@bp.post("/cases/<uuid:dispute_id>/recuse")
def recuse(dispute_id: uuid.UUID):
    """After this the case is not found for this officer: back to the queue."""

    def action(dispute, form):
        released = conflicts.recuse(session(), vault(), dispute, _me(), expected_version=form.lock_version.data)
        flash(
            _("Conflict declared: this subject's cases are no longer shown to you.")
            + " "
            + ngettext(
                "%(num)d case you held went back to the queue.",
                "%(num)d cases you held went back to the queue.",
                released,
            )
            if released
            else _("Conflict declared: this subject's cases are no longer shown to you."),
            "success",
        )
        return redirect(url_for(".queue"))

    return _act(dispute_id, "recuse", RecuseForm, action, "", field="confirm")


@bp.post("/cases/<uuid:dispute_id>/notes")
def add_note(dispute_id: uuid.UUID):
    return _act(
        dispute_id,
        "note",
        NoteForm,
        lambda d, f: notes.add_note(session(), vault(), d, _me(), f.text.data, expected_version=f.lock_version.data),
        _("Note added."),
        field="text",
        act=Act.NOTE,
    )


@bp.post("/cases/<uuid:dispute_id>/reveal")
def reveal(dispute_id: uuid.UUID):
    """The clear name and identifier are in this response only; the case
    page shows them masked again on the next visit."""

    def action(dispute, form):
        clear = reveal_subject(session(), vault(), dispute, _me(), form.reason.data)
        return _render(dispute, 200, revealed=clear)

    return _act(dispute_id, "reveal", RevealForm, action, "", field="reason", act=Act.REVEAL)


@bp.get("/cases/<uuid:dispute_id>/evidence/<uuid:evidence_id>")
def evidence(dispute_id: uuid.UUID, evidence_id: uuid.UUID):
    dispute = _case(dispute_id)
    try:
        data, media_type, name = evidence_file(session(), vault(), dispute, _me(), evidence_id)
    except policy.NotAssigned:
        abort(403)
    except policy.CaseNotFound:
        abort(404)
    response = Response(data, mimetype=media_type)
    response.headers["Content-Disposition"] = ev.disposition(
        _cipher(dispute), policy.load_file(session(), dispute, evidence_id)
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
