"""Forms of the officers' pages, and the names their lists show. Every form
that acts on a case carries the case's lock_version, so an action based on
a page someone else has since changed is refused."""

from __future__ import annotations

from wtforms import BooleanField, IntegerField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from portal.accounts.forms import MultiCheckboxField
from portal.compliance.notes import MAX_NOTE
from portal.compliance.reveal import MAX_REVEAL_REASON
from portal.disputes.deadlines import MAX_EXTENSION_DAYS
from portal.disputes.lifecycle import MAX_NOTE as MAX_STEP_NOTE
from portal.disputes.models import Answer, DisputeKind, DisputeReason, DisputeStatus, StepKind
from portal.forms import Form
from portal.i18n import lazy as _l

STATUS_NAMES = {
    DisputeStatus.SUBMITTED: _l("Submitted"),
    DisputeStatus.ACKNOWLEDGED: _l("Acknowledged"),
    DisputeStatus.UNDER_REVIEW: _l("Under review"),
    DisputeStatus.WAITING_FOR_FURNISHER: _l("Waiting for the furnisher"),
    DisputeStatus.WAITING_FOR_SUBJECT: _l("Waiting for the subject"),
    DisputeStatus.RESOLVED: _l("Resolved"),
    DisputeStatus.WITHDRAWN: _l("Withdrawn"),
}
REASON_NAMES = {
    DisputeReason.NOT_MINE: _l("Not mine"),
    DisputeReason.WRONG_AMOUNT: _l("Wrong amount"),
    DisputeReason.WRONG_DATES: _l("Wrong dates"),
    DisputeReason.PAID_OR_SETTLED: _l("Paid or settled"),
    DisputeReason.IDENTITY_THEFT: _l("Identity theft"),
    DisputeReason.OUTDATED: _l("Outdated"),
    DisputeReason.UNAUTHORISED_ACCESS: _l("Unauthorised access"),
    DisputeReason.OTHER: _l("Other"),
    DisputeReason.CREDIT_REPAIR: _l("Credit repair"),
}
KIND_NAMES = {DisputeKind.OBJECTION: _l("Objection"), DisputeKind.CREDIT_REPAIR: _l("Credit repair application")}
STEP_NAMES = {
    StepKind.FILED: _l("Filed"),
    StepKind.ACKNOWLEDGED: _l("Acknowledged"),
    StepKind.UNDER_REVIEW: _l("Review started"),
    StepKind.WAITING_FOR_FURNISHER: _l("Waiting for the furnisher"),
    StepKind.WAITING_FOR_SUBJECT: _l("Subject asked for more"),
    StepKind.RESOLVED: _l("Decided"),
    StepKind.WITHDRAWN: _l("Withdrawn"),
    StepKind.EXTENDED: _l("Deadline extended"),
    StepKind.EVIDENCE_ADDED: _l("Evidence added"),
    StepKind.ASSIGNED: _l("Assigned"),
    StepKind.RELEASED: _l("Returned to the queue (its officer declared a conflict)"),
    StepKind.FURNISHER_ANSWERED: _l("Furnisher answered"),
    StepKind.STATEMENT_ADDED: _l("Statement added"),
}
ANSWER_NAMES = {
    Answer.VERIFIED_ACCURATE: _l("Verified as accurate"),
    Answer.CORRECTED: _l("Corrected"),
    Answer.CANNOT_VERIFY: _l("Cannot verify"),
}
# The button of each step an officer can take, and what its note means.
MOVE_LABELS = {
    DisputeStatus.ACKNOWLEDGED: _l("Acknowledge"),
    DisputeStatus.UNDER_REVIEW: _l("Start the review"),
    DisputeStatus.WAITING_FOR_FURNISHER: _l("Wait for the furnisher"),
    DisputeStatus.WAITING_FOR_SUBJECT: _l("Ask the subject"),
}
ASSIGNED_FILTERS = (("", _l("Anyone or no one")), ("me", _l("Assigned to me")), ("unassigned", _l("Unassigned")))


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class QueueFilterForm(Form):
    """GET filters of the queue (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        default="open",
        validators=[Optional()],
        choices=choices(
            [("open", _l("Open (any open status)"))]
            + [(s.value, STATUS_NAMES[s]) for s in DisputeStatus]
            + [("closed", _l("Closed (resolved or withdrawn)")), ("all", _l("All"))]
        ),
    )
    reason = SelectField(
        _l("Reason"),
        validators=[Optional()],
        choices=choices([("", _l("Any"))] + [(r.value, REASON_NAMES[r]) for r in DisputeReason]),
    )
    institution = SelectField(_l("Furnisher"), validators=[Optional()])
    assigned = SelectField(_l("Assigned"), validators=[Optional()], choices=choices(ASSIGNED_FILTERS))
    submit = SubmitField(_l("Filter"))


class CaseForm(Form):
    """Base of the forms of a case: the version of the case the page showed."""

    lock_version = IntegerField(
        _l("Version of the case"),
        widget=HiddenInput(),
        validators=[InputRequired(message=_l("The page is incomplete; reload the case."))],
    )

    def show_version(self, version: int) -> None:
        """Carry `version` from now on (the page shows the case as it is now)."""
        self.lock_version.data = version
        self.lock_version.raw_data = [str(version)]


class TakeForm(CaseForm):
    submit = SubmitField(_l("Take this case"))


class AssignForm(CaseForm):
    officer = SelectField(_l("Assign to"), validators=[DataRequired(message=_l("Choose an officer."))])
    submit = SubmitField(_l("Assign"))


class MoveForm(CaseForm):
    note = TextAreaField(
        _l("Note to the subject (they read it on their timeline)"), validators=[Optional(), Length(max=MAX_STEP_NOTE)]
    )
    submit = SubmitField(_l("Go"))


class ExtendForm(CaseForm):
    days = IntegerField(
        _l("Days to add"),
        validators=[
            InputRequired(message=_l("Say by how many days.")),
            NumberRange(min=1, max=MAX_EXTENSION_DAYS, message=_l("Between %(min)d and %(max)d days.")),
        ],
    )
    reason = TextAreaField(
        _l("Reason (the subject reads it)"),
        validators=[DataRequired(message=_l("An extension needs a reason.")), Length(max=MAX_STEP_NOTE)],
    )
    submit = SubmitField(_l("Extend the deadline"))


class DecideForm(CaseForm):
    outcome = SelectField(_l("Outcome"), validators=[DataRequired(message=_l("Choose an outcome."))])
    reason = TextAreaField(
        _l("Reason for the decision (the subject reads it in the outcome letter)"),
        validators=[DataRequired(message=_l("A decision needs a reason.")), Length(max=MAX_STEP_NOTE)],
    )
    submit = SubmitField(_l("Decide"))


def decide_form(records) -> type[DecideForm]:
    """The decision form of a case. Over several records, each has a choice
    of its own, left empty to follow the decision above (fields named
    record_<hex of the record's id>)."""
    if len(records) < 2:
        return DecideForm
    fields = {f"record_{record_id.hex}": SelectField(label, validators=[Optional()]) for record_id, label in records}
    return type("CaseDecideForm", (DecideForm,), fields)


class NoteForm(CaseForm):
    text = TextAreaField(
        _l("Note for officers (never shown to the subject)"),
        validators=[DataRequired(message=_l("Write the note.")), Length(max=MAX_NOTE)],
    )
    submit = SubmitField(_l("Add the note"))


class RevealForm(CaseForm):
    reason = TextAreaField(
        _l("Why do you need the name and identifier? (the subject sees this)"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=MAX_REVEAL_REASON)],
    )
    submit = SubmitField(_l("Reveal the name and identifier"))


class ShareForm(CaseForm):
    """Send one file of a case spanning several furnishers to some of them."""

    furnishers = MultiCheckboxField(
        _l("Send this file to"), validators=[DataRequired(message=_l("Choose at least one furnisher."))]
    )
    submit = SubmitField(_l("Send the file"))


class RecuseForm(CaseForm):
    """An officer declares a link to the case's subject (a relative, an
    employer, their own firm)."""

    confirm = BooleanField(
        _l("I am linked to this subject (a relative, an employer, my own firm): never show me this subject's cases."),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )
    submit = SubmitField(_l("Declare a conflict"))
