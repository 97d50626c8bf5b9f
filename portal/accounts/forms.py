"""Account forms. Labels and messages are lazy so they follow the page's
language."""

from __future__ import annotations

from wtforms import DateField, EmailField, PasswordField, RadioField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts.models import DelegationScope
from portal.accounts.services import MAX_PASSWORD
from portal.forms import Form
from portal.i18n import lazy as _l
from portal.localtime import today as local_today
from portal.records.services import add_years

KIND_CHOICES = [
    SelectChoice("person", _l("A person (resident identity number)")),
    SelectChoice("firm", _l("A firm, as its legal representative (unified social credit code)")),
]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _required():
    return DataRequired(message=_l("This field is required."))


class RegisterForm(Form):
    kind = RadioField(
        _l("Who are you registering for?"), choices=KIND_CHOICES, default="person", validators=[_required()]
    )
    identifier = StringField(
        _l("Identity number or credit code"),
        validators=[_required(), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(
        _l("Name as on file (person or firm)"),
        validators=[_required(), Length(max=100)],
        render_kw={"autocomplete": "name"},
    )
    submit = SubmitField(_l("Send me an activation code"))


class NewPasswordMixin:
    password = PasswordField(
        _l("Password"),
        validators=[_required(), Length(max=MAX_PASSWORD)],
        render_kw={"autocomplete": "new-password", "maxlength": MAX_PASSWORD},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[_required(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password", "maxlength": MAX_PASSWORD},
    )


class ActivateForm(NewPasswordMixin, Form):
    kind = RadioField(
        _l("Who are you registering for?"), choices=KIND_CHOICES, default="person", validators=[_required()]
    )
    identifier = StringField(
        _l("Identity number or credit code"),
        validators=[_required(), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    code = StringField(
        _l("Activation code"),
        validators=[_required(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    display_name = StringField(
        _l("Your name"), validators=[_required(), Length(max=100)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        _l("E-mail address (your sign-in)"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    submit = SubmitField(_l("Create my account"))


class AskQuestionsForm(Form):
    kind = RadioField(
        _l("Who are you registering for?"), choices=KIND_CHOICES, default="person", validators=[_required()]
    )
    identifier = StringField(
        _l("Identity number or credit code"),
        validators=[_required(), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(
        _l("Name as on file (person or firm)"),
        validators=[_required(), Length(max=100)],
        render_kw={"autocomplete": "name"},
    )
    submit = SubmitField(_l("Show me the questions"))


def _choose():
    return DataRequired(message=_l("Choose an answer."))


class QuestionsForm(Form):
    """Four questions whose wording and options the page sets (`ask`); an
    answer is an option's place, so nothing in the page marks the right one."""

    q0 = RadioField(validators=[_choose()], choices=[])
    q1 = RadioField(validators=[_choose()], choices=[])
    q2 = RadioField(validators=[_choose()], choices=[])
    q3 = RadioField(validators=[_choose()], choices=[])
    submit = SubmitField(_l("Check my answers"))

    def ask(self, questions: list[tuple[str, list[str]]]) -> None:
        for field, (text, options) in zip(self.questions(), questions, strict=True):
            field.label.text = text
            field.choices = [(str(i), label) for i, label in enumerate(options)]

    def questions(self) -> list[RadioField]:
        return [self.q0, self.q1, self.q2, self.q3]

    def chosen(self) -> list[int]:
        return [int(field.data) for field in self.questions()]


class OpenAccountForm(NewPasswordMixin, Form):
    display_name = StringField(
        _l("Your name"), validators=[_required(), Length(max=100)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        _l("E-mail address (your sign-in)"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    submit = SubmitField(_l("Create my account"))


class LoginForm(Form):
    email = EmailField(
        _l("E-mail address"), validators=[_required(), Length(max=254)], render_kw={"autocomplete": "username"}
    )
    password = PasswordField(
        _l("Password"),
        validators=[_required(), Length(max=MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password", "maxlength": MAX_PASSWORD},
    )
    submit = SubmitField(_l("Sign in"))


class ContactCodeForm(Form):
    code = StringField(
        _l("Code sent to the contact on file"),
        validators=[_required(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Turn off two-step sign-in"))


class CodeForm(Form):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[_required(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Continue"))


class TotpSetupForm(Form):
    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[_required(), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Turn on two-step sign-in"))


class ReauthForm(Form):
    password = PasswordField(
        _l("Your current password"),
        validators=[_required(), Length(max=MAX_PASSWORD)],
        render_kw={"autocomplete": "current-password", "maxlength": MAX_PASSWORD},
    )
    submit = SubmitField(_l("Confirm"))


class ResetRequestForm(Form):
    email = EmailField(
        _l("E-mail address (your sign-in)"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    submit = SubmitField(_l("Send me a link"))


class ResetForm(NewPasswordMixin, Form):
    """A new password through an e-mailed link; `code` is removed for an
    account without two-step sign-in."""

    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[_required(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Set the new password"))


class PasswordForm(NewPasswordMixin, Form):
    submit = SubmitField(_l("Change password"))


class EmailForm(Form):
    email = EmailField(
        _l("New e-mail address"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    submit = SubmitField(_l("Change e-mail address"))


class ConfirmForm(Form):
    submit = SubmitField(_l("Confirm"))


class InviteForm(Form):
    email = EmailField(
        _l("The agent's e-mail address"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
    )
    scopes = MultiCheckboxField(
        _l("What the agent may do"),
        choices=[
            SelectChoice(DelegationScope.VIEW_REPORT.value, _l("View the firm's credit report")),
            SelectChoice(DelegationScope.FILE_DISPUTES.value, _l("File disputes for the firm")),
        ],
        default=[DelegationScope.VIEW_REPORT.value],
    )
    valid_until = DateField(_l("Valid until"), validators=[_required()])
    submit = SubmitField(_l("Send invitation"))

    def validate_scopes(self, field):
        if not field.data:
            raise ValidationError(_l("Choose at least one."))

    def validate_valid_until(self, field):
        today = local_today()
        if field.data <= today:
            raise ValidationError(_l("Choose a date after today."))
        if field.data > add_years(today, 3):
            raise ValidationError(_l("A delegation lasts at most three years."))


class AcceptInvitationForm(NewPasswordMixin, Form):
    display_name = StringField(
        _l("Your name"), validators=[_required(), Length(max=100)], render_kw={"autocomplete": "name"}
    )
    submit = SubmitField(_l("Accept and create my account"))
