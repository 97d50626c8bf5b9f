"""Forms of the operator console's staff, proposal and conflict pages."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from portal.admin.proposals import MAX_REASON
from portal.forms import Form
from portal.i18n import lazy as _l


def _required():
    return DataRequired(message=_l("This field is required."))


ROLE_CHOICES = [
    SelectChoice("officer", _l("Officer: reviews disputes")),
    SelectChoice("supervisor", _l("Supervisor: reviews disputes, assigns cases and oversees institutions")),
    SelectChoice("administrator", _l("Administrator: runs the system (needs a second administrator's approval)")),
]
SUBJECT_KINDS = [
    SelectChoice("", _l("Infer from the number")),
    SelectChoice("person", _l("A person")),
    SelectChoice("firm", _l("A firm")),
]


class InviteStaffForm(Form):
    email = EmailField(
        _l("E-mail address"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
    )
    role = RadioField(_l("Role"), choices=ROLE_CHOICES, default="officer", validators=[_required()])
    reason = TextAreaField(
        _l("Why (needed for an administrator, for the one who approves)"),
        validators=[Optional(), Length(max=MAX_REASON)],
    )
    submit = SubmitField(_l("Send the invitation"))


class RoleForm(Form):
    role = RadioField(_l("New role"), choices=ROLE_CHOICES[:2], validators=[_required()])
    submit = SubmitField(_l("Change the role"))


class ProposeAdministratorForm(Form):
    reason = TextAreaField(
        _l("Why this person should be an administrator"), validators=[_required(), Length(max=MAX_REASON)]
    )
    submit = SubmitField(_l("Propose"))


class DeactivateForm(Form):
    confirm = BooleanField(
        _l("I understand this person is signed out everywhere and cannot sign in"), validators=[_required()]
    )
    submit = SubmitField(_l("Deactivate the account"))


class ActionForm(Form):
    """A button that needs nothing but the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class ConflictForm(Form):
    identifier = StringField(
        _l("Identity number or credit code of the subject"),
        validators=[_required(), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    kind = RadioField(_l("Kind"), choices=SUBJECT_KINDS, default="", validators=[Optional()])
    submit = SubmitField(_l("Record the conflict"))


class RotateKeysForm(Form):
    reason = TextAreaField(_l("Why rotate now"), validators=[_required(), Length(max=MAX_REASON)])
    submit = SubmitField(_l("Propose a key rotation"))


class EraseSubjectForm(Form):
    identifier = StringField(
        _l("Identity number or credit code of the subject"),
        validators=[_required(), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    kind = RadioField(_l("Kind"), choices=SUBJECT_KINDS, default="", validators=[Optional()])
    reason = TextAreaField(
        _l("The legal ground and the request it answers"), validators=[_required(), Length(max=MAX_REASON)]
    )
    submit = SubmitField(_l("Propose the erasure"))


class DecisionForm(Form):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_REASON)])
    confirm = BooleanField(_l("I have checked this proposal and its reason"), validators=[Optional()])
    approve = SubmitField(_l("Approve and carry it out"))
    reject = SubmitField(_l("Reject"))
