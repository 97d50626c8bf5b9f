"""A firm applies for credit repair of an administrative penalty. Routes
parse and render; the rules are in repair.py."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.file import FileField, MultipleFileField
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.accounts.authz import found, load_of, load_subject
from portal.accounts.models import DelegationScope
from portal.disputes.evidence import Upload, upload_errors
from portal.disputes.routes import configured_regime
from portal.disputes.services import MAX_STATEMENT, DuplicateDispute
from portal.extensions import session, vault
from portal.forms import Form
from portal.i18n import day, shown
from portal.i18n import lazy as _l
from portal.localtime import today as local_today
from portal.records.models import CreditRecord
from portal.repair import services as repair

bp = Blueprint("repair", __name__)


class RepairForm(Form):
    statement = TextAreaField(
        _l("What was rectified, and how"),
        validators=[DataRequired(message=_l("This field is required.")), Length(max=MAX_STATEMENT)],
    )
    commitment = FileField(_l("Signed commitment letter (PDF, PNG or JPEG)"))
    proof = MultipleFileField(_l("Proof of rectification (up to 4 files)"))
    submit = SubmitField(_l("Apply for credit repair"))


def _upload(storage) -> Upload | None:
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return Upload(storage.filename, storage.read(), storage.mimetype or "")


@bp.route("/subjects/<uuid:subject_id>/records/<uuid:record_id>/repair", methods=["GET", "POST"])
@login_required
def apply(subject_id: uuid.UUID, record_id: uuid.UUID):
    access = load_subject(session(), current_user.user, subject_id, DelegationScope.FILE_DISPUTES)
    record = load_of(session(), access, CreditRecord, record_id)
    # Only a penalty that may be repaired has this page.
    start = found(repair.repair_dates(session(), vault(), access.subject, [record]).get(record.id))
    form = RepairForm()
    duplicate = None
    if form.validate_on_submit():
        commitment = _upload(form.commitment.data)
        proof = [u for u in (_upload(f) for f in form.proof.data or []) if u is not None]
        # The page says what is wrong in the reader's language; the service
        # checks all of it again before writing.
        if commitment is None:
            form.commitment.errors = [_("Attach the signed commitment letter.")]
        if not proof:
            form.proof.errors = [_("Attach proof of rectification (for example the receipt of the fine paid).")]
        errors, checked = upload_errors([u for u in (commitment, *proof) if u is not None])
        if errors:
            form.proof.errors = [*form.proof.errors, *errors]
        elif commitment is not None:  # the service takes the checked files, not rebuilding them again
            commitment, proof = checked[0], checked[1:]
        if start > local_today():
            form.form_errors.append(
                _("Repair may be asked from %(day)s, when the minimum publicity period has passed.", day=day(start))
            )
        elif not (form.commitment.errors or form.proof.errors):
            try:
                case = repair.apply(
                    session(),
                    vault(),
                    access.subject,
                    current_user.user,
                    record.id,
                    form.statement.data,
                    commitment,
                    proof,
                    regime=configured_regime(),
                )
            except DuplicateDispute as exc:
                duplicate = exc.open_id
                form.form_errors.append(_("An application for this record is already open."))
            except ValueError as exc:
                form.form_errors.append(shown(exc))
            else:
                return redirect(url_for("disputes.show", subject_id=access.subject.id, dispute_id=case.id))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "repair/apply.html", access=access, record=record, start=start, form=form, duplicate=duplicate
    ), status
