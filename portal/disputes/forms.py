"""Forms of the subject's dispute pages. Labels and messages are lazy so
they follow the page's language. Files are checked by `ev.upload_errors`
(content decides, never the name) and again by the services."""

from __future__ import annotations

from wtforms import HiddenField, MultipleFileField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.accounts.forms import MultiCheckboxField
from portal.disputes import evidence as ev
from portal.disputes.names import FILING_REASONS, REASON_NAMES
from portal.disputes.pages import MAX_NOTE, MAX_RECORD_STATEMENT, MAX_STATEMENT
from portal.forms import Form
from portal.i18n import lazy as _l

ACCEPT = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"


def _lines(value):
    """Browsers send CRLF line breaks; count a line break as one character."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def uploads_of(field) -> list[ev.Upload]:
    """The files of a file input; the empty part a browser sends when
    nothing was chosen is not a file."""
    out = []
    for item in field.data or []:
        if not hasattr(item, "read"):
            continue
        data = item.read()
        if not item.filename and not data:
            continue
        out.append(ev.Upload(item.filename or "", data, item.mimetype or None))
    return out


class FilingForm(Form):
    records = MultiCheckboxField(_l("Records you dispute"), validate_choice=False)
    event = HiddenField()
    reason = SelectField(
        _l("What is wrong?"),
        choices=[SelectChoice("", _l("Choose…"))] + [SelectChoice(r.value, REASON_NAMES[r]) for r in FILING_REASONS],
        validators=[DataRequired(message=_l("Choose what is wrong."))],
    )
    statement = TextAreaField(
        _l("Your statement"),
        validators=[
            DataRequired(message=_l("Say what is wrong and what it should be.")),
            Length(max=MAX_STATEMENT, message=_l("The statement is at most %(max)d characters.")),
        ],
        filters=[_lines],
        render_kw={"maxlength": MAX_STATEMENT, "rows": 8},
    )
    evidence = MultipleFileField(_l("Evidence (optional)"), render_kw={"accept": ACCEPT})
    submit = SubmitField(_l("File the dispute"))

    def validate_records(self, field):
        if not field.data and not self.event.data:
            raise ValidationError(_l("Choose at least one record."))

    def validate_reason(self, field):
        if field.data not in {r.value for r in FILING_REASONS}:
            raise ValidationError(_l("Choose what is wrong."))


class ReplyForm(Form):
    """More evidence, a note, or both (the reply when we wait for you)."""

    note = TextAreaField(
        _l("Note (optional)"),
        validators=[Optional(), Length(max=MAX_NOTE, message=_l("A note is at most %(max)d characters."))],
        filters=[_lines],
        render_kw={"maxlength": MAX_NOTE, "rows": 5},
    )
    evidence = MultipleFileField(_l("Files"), render_kw={"accept": ACCEPT})
    submit = SubmitField(_l("Send"))


class WithdrawForm(Form):
    version = HiddenField()
    note = TextAreaField(
        _l("Why do you withdraw it? (optional)"),
        validators=[Optional(), Length(max=MAX_NOTE, message=_l("A note is at most %(max)d characters."))],
        filters=[_lines],
        render_kw={"maxlength": MAX_NOTE, "rows": 3},
    )
    submit = SubmitField(_l("Withdraw the dispute"))


class StatementForm(Form):
    text = TextAreaField(
        _l("Your statement beside this record"),
        validators=[
            DataRequired(message=_l("Write the statement.")),
            Length(max=MAX_RECORD_STATEMENT, message=_l("A statement is at most %(max)d characters.")),
        ],
        filters=[_lines],
        render_kw={"maxlength": MAX_RECORD_STATEMENT, "rows": 3},
    )
    submit = SubmitField(_l("Add the statement"))
