"""The subject's side of disputes: filing, the list, the dispute page
(timeline, evidence, replies, withdrawal), the outcome letter and the
statements beside records. Routes parse and render; the view models are in
`pages` and `listing`, what the subject does in `actions`. Everything here
needs the subject's own account, or an agent holding the file_disputes
scope; anything else is 404 (`portal.accounts.authz`)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.accounts.authz import SubjectAccess, found, load_of, load_part, load_subject
from portal.accounts.models import DelegationScope
from portal.audit.documents import document_signer, verify_url
from portal.audit.models import AccessEvent
from portal.db import utcnow
from portal.disputes import actions, decisions, listing
from portal.disputes import pages as views
from portal.disputes.choices import event_summary, open_dispute_of_event, record_choices
from portal.disputes.deadlines import due_date
from portal.disputes.evidence import EvidenceRejected, Upload, disposition, upload_errors
from portal.disputes.forms import FilingForm, ReplyForm, StatementForm, WithdrawForm, uploads_of
from portal.disputes.letter_pdf import build_letter_pdf
from portal.disputes.lifecycle import DisputeError, StaleDispute
from portal.disputes.models import Dispute, DisputeOutcome, DisputeReason, Evidence, Regime
from portal.disputes.names import FILING_REASONS
from portal.disputes.services import DuplicateDispute
from portal.extensions import session, vault
from portal.i18n import day, shown
from portal.localtime import today as local_today
from portal.paging import page_number
from portal.pdf import Stamp

bp = Blueprint("disputes", __name__)
SCOPE = DelegationScope.FILE_DISPUTES


def configured_regime() -> Regime:
    """The deadline regime of new disputes (setting DISPUTE_REGIME)."""
    return Regime(current_app.config["DISPUTE_REGIME"])


def _case(subject_id: uuid.UUID, dispute_id: uuid.UUID) -> tuple[SubjectAccess, Dispute]:
    access = load_subject(session(), current_user.user, subject_id, SCOPE)
    return access, load_of(session(), access, Dispute, dispute_id)


def _uuids(values: list[str]) -> list[uuid.UUID] | None:
    """Distinct ids in the order given; None when one is not an id."""
    out: list[uuid.UUID] = []
    for value in values:
        try:
            rid = uuid.UUID(value)
        except (ValueError, TypeError):
            return None
        if rid not in out:
            out.append(rid)
    return out


def _show_url(access: SubjectAccess, dispute_id: uuid.UUID, anchor: str | None = None) -> str:
    return url_for("disputes.show", subject_id=access.subject.id, dispute_id=dispute_id, _anchor=anchor)


# -- filing --------------------------------------------------------------------
@bp.route("/subjects/<uuid:subject_id>/disputes/new", methods=["GET", "POST"])
@login_required
def new(subject_id: uuid.UUID):
    """From the report (`?record=…&record=…`) or from the access log
    (`?event=…`): the records or the event, a reason, a statement, files."""
    access = load_subject(session(), current_user.user, subject_id, SCOPE)
    s, v, subject = session(), vault(), access.subject
    form = FilingForm()
    posted = request.method == "POST"
    ids = _uuids((form.records.data or []) if posted else request.args.getlist("record"))
    raw_event = (form.event.data if posted else request.args.get("event")) or ""
    event_ids = _uuids([raw_event]) if raw_event else []
    if ids is None or event_ids is None:
        abort(404)
    event = load_of(s, access, AccessEvent, event_ids[0]) if event_ids else None
    choices = record_choices(s, v, subject, ids if ids or event else None)
    foreign = bool(ids) and len(choices) != len(ids)  # not this subject's, or deleted
    if foreign and not posted:
        abort(404)
    locale = str(get_locale())
    form.records.choices = [(str(c.id), c.label(locale)) for c in choices]
    if not posted:
        form.records.data = [str(i) for i in ids]
        form.event.data = str(event.id) if event else ""
        reason = request.args.get("reason", "")
        if event is not None and not reason:
            reason = DisputeReason.UNAUTHORISED_ACCESS.value
        form.reason.data = reason if reason in {r.value for r in FILING_REASONS} else ""

    duplicate: uuid.UUID | None = None
    uploads: list[Upload] = []
    if posted:
        valid = form.validate_on_submit()
        file_errors, uploads = upload_errors(uploads_of(form.evidence))
        form.evidence.errors = list(form.evidence.errors) + file_errors
        if foreign:
            form.records.errors = list(form.records.errors) + [_("Choose records from your own report.")]
        if valid and not file_errors and not foreign:
            try:
                dispute = actions.file(
                    s,
                    v,
                    access,
                    current_user.user,
                    [c.id for c in choices],
                    form.reason.data,
                    form.statement.data,
                    uploads,
                    event.id if event else None,
                    configured_regime(),
                )
            except DuplicateDispute as exc:
                duplicate = exc.open_id
                form.reason.errors.append(_("An open dispute already covers this for the same reason."))
            except EvidenceRejected as exc:
                form.evidence.errors.append(shown(exc))
            except ValueError as exc:
                form.statement.errors.append(shown(exc))
            else:
                flash(_("Your dispute was filed. It will be answered by %(due)s.", due=day(dispute.due_on)), "success")
                return redirect(_show_url(access, dispute.id))
    existing = open_dispute_of_event(s, subject, event.id) if event is not None else None
    return render_template(
        "disputes/new.html",
        access=access,
        form=form,
        choices=choices,
        event=event_summary(s, event),
        duplicate=duplicate,
        existing=existing,
        files_lost=bool(uploads) and bool(form.errors),
        max_statement=views.MAX_STATEMENT,
        answer_by=due_date(configured_regime(), local_today()),
    )


# -- the list and the dispute page --------------------------------------------------
@bp.get("/subjects/<uuid:subject_id>/disputes")
@login_required
def index(subject_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id, SCOPE)
    try:
        shown_page = listing.dispute_list(session(), vault(), current_user.user, access, page_number())
    except LookupError:
        abort(404)
    return render_template("disputes/list.html", access=access, listing=shown_page)


def _render(
    access: SubjectAccess,
    dispute: Dispute,
    reply_form: ReplyForm | None = None,
    statement_form: tuple[uuid.UUID, StatementForm] | None = None,
    files_lost: bool = False,
) -> str:
    page = views.dispute_page(session(), vault(), current_user.user, access, dispute)
    forms = {
        line.record.id: StatementForm(prefix=_statement_prefix(line.record.id))
        for line in page.records
        if line.can_add_statement
    }
    if statement_form is not None:
        forms[statement_form[0]] = statement_form[1]
    return render_template(
        "disputes/show.html",
        access=access,
        page=page,
        reply_form=reply_form or ReplyForm(),
        statement_forms=forms,
        files_lost=files_lost,
        max_record_statement=views.MAX_RECORD_STATEMENT,
    )


def _statement_prefix(record_id: uuid.UUID) -> str:
    return f"statement-{record_id.hex}"


@bp.get("/subjects/<uuid:subject_id>/disputes/<uuid:dispute_id>")
@login_required
def show(subject_id: uuid.UUID, dispute_id: uuid.UUID):
    return _render(*_case(subject_id, dispute_id))


@bp.post("/subjects/<uuid:subject_id>/disputes/<uuid:dispute_id>/evidence")
@login_required
def reply(subject_id: uuid.UUID, dispute_id: uuid.UUID):
    """More evidence and/or a note. Replying when asked does not move the
    case: the officer does."""
    access, dispute = _case(subject_id, dispute_id)
    if not dispute.is_open:
        flash(_("This dispute is closed; nothing more can be added."), "error")
        return redirect(_show_url(access, dispute.id))
    form = ReplyForm()
    valid = form.validate_on_submit()
    uploads = uploads_of(form.evidence)
    if valid:
        try:
            actions.reply(session(), vault(), dispute, current_user.user, form.note.data, uploads)
        except actions.ReplyRefused as exc:
            form.evidence.errors = list(form.evidence.errors) + exc.messages
        except StaleDispute:
            flash(_("This dispute changed in the meantime; look at it again and send your reply again."), "error")
            return redirect(_show_url(access, dispute_id))
        else:
            flash(_("Sent. The officer on your case will see it."), "success")
            return redirect(_show_url(access, dispute.id, "timeline"))
    return _render(access, dispute, reply_form=form, files_lost=bool(uploads))


@bp.get("/subjects/<uuid:subject_id>/disputes/<uuid:dispute_id>/evidence/<uuid:evidence_id>")
@login_required
def evidence(subject_id: uuid.UUID, dispute_id: uuid.UUID, evidence_id: uuid.UUID):
    access, dispute = _case(subject_id, dispute_id)
    row = load_part(session(), Evidence, evidence_id, dispute_id=dispute.id)
    data, media_type, _name = actions.evidence_file(session(), vault(), current_user.user, access, dispute, row)
    response = Response(data, mimetype=media_type)
    # The name it was uploaded with (RFC 6266: an ASCII fallback, and filename* for the rest).
    response.headers["Content-Disposition"] = disposition(vault().cipher(session(), access.subject.data_key_id), row)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/subjects/<uuid:subject_id>/disputes/<uuid:dispute_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(subject_id: uuid.UUID, dispute_id: uuid.UUID):
    """A confirmation page, then the withdrawal."""
    access, dispute = _case(subject_id, dispute_id)
    if not dispute.is_open:
        flash(_("This dispute is already closed."), "warning")
        return redirect(_show_url(access, dispute.id))
    form = WithdrawForm()
    if request.method == "GET":
        form.version.data = str(dispute.lock_version)
    if form.validate_on_submit():
        raw = form.version.data or ""
        # A missing or garbled version is a page we cannot vouch for: stale.
        expected = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1
        try:
            actions.withdraw(session(), vault(), dispute, current_user.user, form.note.data, expected)
        except StaleDispute:
            flash(_("This dispute changed in the meantime; look at it again before withdrawing it."), "error")
            return redirect(_show_url(access, dispute_id))
        except DisputeError as exc:
            form.note.errors.append(shown(exc))
        else:
            flash(_("Your dispute was withdrawn."), "success")
            return redirect(_show_url(access, dispute.id))
    return render_template(
        "disputes/withdraw.html", access=access, form=form, summary=listing.summary(session(), dispute)
    )


# -- after the decision ----------------------------------------------------------------
@bp.get("/subjects/<uuid:subject_id>/disputes/<uuid:dispute_id>/letter.pdf")
@login_required
def letter_pdf(subject_id: uuid.UUID, dispute_id: uuid.UUID):
    access, dispute = _case(subject_id, dispute_id)
    page = views.dispute_page(session(), vault(), current_user.user, access, dispute, log=False)
    found(page.letter)
    body = actions.issue_letter_pdf(
        session(),
        vault(),
        current_user.user,
        access,
        dispute,
        document_signer(),
        lambda number: build_letter_pdf(page, utcnow(), Stamp(number, verify_url(number))),
    )
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="dispute-{page.reference}-outcome.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/subjects/<uuid:subject_id>/disputes/<uuid:dispute_id>/records/<uuid:record_id>/statement")
@login_required
def add_statement(subject_id: uuid.UUID, dispute_id: uuid.UUID, record_id: uuid.UUID):
    """A statement (200 characters at most) beside a record the dispute
    verified as accurate."""
    access, dispute = _case(subject_id, dispute_id)
    item = found(next((i for i in dispute.items if i.record_id == record_id), None))
    anchor = f"record-{record_id}"
    if item.decided(dispute) != DisputeOutcome.VERIFIED_ACCURATE:
        flash(_("A statement can be added only beside records a dispute verified as accurate."), "error")
        return redirect(_show_url(access, dispute.id, anchor))
    form = StatementForm(prefix=_statement_prefix(record_id))
    if form.validate_on_submit():
        try:
            decisions.add_statement(session(), vault(), dispute, record_id, current_user.user, form.text.data)
        except ValueError as exc:
            flash(shown(exc), "error")
        else:
            flash(
                _("Your statement was added. It is sent with the record to everyone who receives it from now on."),
                "success",
            )
        return redirect(_show_url(access, dispute.id, anchor))
    return _render(access, dispute, statement_form=(record_id, form))
