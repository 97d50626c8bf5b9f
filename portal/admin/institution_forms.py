"""Forms of the console's institution pages: a new institution, its
settings, suspending and lifting its querying, and its API keys."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from portal.accounts.forms import MultiCheckboxField
from portal.admin.institutions import MAX_CONTACT_NAME, MAX_EMAIL, MAX_NAME, PURPOSES
from portal.audit.names import PURPOSE_NAMES
from portal.compliance.oversight import KIND_NAMES, MAX_REASON
from portal.forms import Form
from portal.i18n import N_, translate
from portal.i18n import lazy as _l
from portal.institutions.models import ApiScope, InstitutionKind
from portal.records.models import Category
from portal.records.pages import CATEGORY_NAMES

ANY, LISTED, NONE = "any", "listed", "none"  # what it may furnish


def _required():
    return DataRequired(message=_l("This field is required."))


def _hour(label):
    return IntegerField(label, validators=[Optional(), NumberRange(0, 23, message=_l("A whole hour from 0 to 23."))])


SCOPE_CHOICES = [
    SelectChoice(ApiScope.FURNISH.value, _l("Furnish records and answer disputes of them")),
    SelectChoice(ApiScope.QUERY.value, _l("Query reports and register written authorisations")),
]


class _Permissions(Form):
    """What it may query for and furnish. Furnishing is a deliberate
    choice: any category, only those ticked, or none."""

    purposes = MultiCheckboxField(
        _l("Purposes it may query for (none: it does not query)"),
        choices=[SelectChoice(p.value, PURPOSE_NAMES[p]) for p in PURPOSES],
        default=[],
    )
    furnishes = RadioField(
        _l("Records it may furnish"),
        choices=[
            SelectChoice(ANY, _l("Records of any category")),
            SelectChoice(LISTED, _l("Only records of the categories ticked below")),
            SelectChoice(NONE, _l("None: it does not furnish")),
        ],
        validators=[DataRequired(message=_l("Choose what it may furnish."))],
    )
    categories = MultiCheckboxField(
        _l("Categories it may furnish"),
        choices=[SelectChoice(c.value, CATEGORY_NAMES[c]) for c in Category],
        default=[],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.furnishes.data == LISTED and not self.categories.data:
            self.categories.errors = [translate(N_("Tick the categories it may furnish."))]
            valid = False
        elif self.furnishes.data in (ANY, NONE) and self.categories.data:
            self.categories.errors = [
                translate(N_("Tick categories only when it may furnish only those; untick them or change the choice."))
            ]
            valid = False
        return valid

    def chosen_categories(self) -> list[str] | None:
        """None: any category."""
        return {ANY: None, NONE: []}.get(self.furnishes.data, list(self.categories.data or []))

    @staticmethod
    def furnishes_of(categories: list[str] | None) -> str:
        return ANY if categories is None else (LISTED if categories else NONE)


class NewInstitutionForm(_Permissions):
    code = StringField(
        _l("Code"),
        validators=[_required(), Length(min=2, max=32, message=_l("Use 2 to 32 characters."))],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(_l("Name in Chinese"), validators=[_required(), Length(max=MAX_NAME)])
    name_en = StringField(_l("Name in English"), validators=[_required(), Length(max=MAX_NAME)])
    kind = RadioField(
        _l("Kind"), choices=[SelectChoice(k.value, KIND_NAMES[k]) for k in InstitutionKind], validators=[_required()]
    )
    contact_name = StringField(_l("Contact person"), validators=[_required(), Length(max=MAX_CONTACT_NAME)])
    contact_email = EmailField(
        _l("Contact e-mail address"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=MAX_EMAIL)],
    )
    query_hours_from = _hour(_l("Declared query hours: from (hour, optional)"))
    query_hours_until = _hour(_l("Declared query hours: until (hour, not included)"))
    submit = SubmitField(_l("Create the institution"))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        start, until = self.query_hours_from, self.query_hours_until
        if not start.errors and not until.errors:
            if (start.data is None) != (until.data is None):
                missing = start if start.data is None else until
                missing.errors = [translate(N_("Give both hours, or neither for any hour."))]
                valid = False
            elif start.data is not None and start.data == until.data:
                until.errors = [translate(N_("The hours must differ; leave both empty for any hour."))]
                valid = False
        return valid

    def hours(self) -> tuple[int, int] | None:
        start, until = self.query_hours_from.data, self.query_hours_until.data
        return None if start is None or until is None else (start, until)


class SettingsForm(_Permissions):
    contact_name = StringField(_l("Contact person"), validators=[_required(), Length(max=MAX_CONTACT_NAME)])
    contact_email = EmailField(
        _l("Contact e-mail address"),
        validators=[_required(), Email(message=_l("Enter a valid e-mail address.")), Length(max=MAX_EMAIL)],
    )
    submit = SubmitField(_l("Save the settings"))


class _Step(Form):
    # The suspension step the page showed (`oversight.last_step`): a form
    # from an older page is refused rather than undo another's step.
    seen = HiddenField()


class SuspendForm(_Step):
    reason = TextAreaField(
        _l("Why are its queries suspended? (the institution is told this)"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=MAX_REASON)],
    )
    confirm = BooleanField(
        _l("I understand: its report queries will be refused until the suspension is lifted."),
        validators=[DataRequired(message=_l("Tick the box to confirm the suspension."))],
    )
    submit = SubmitField(_l("Suspend its queries"))


class LiftForm(_Step):
    reason = TextAreaField(
        _l("Why is the suspension lifted?"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=MAX_REASON)],
    )
    submit = SubmitField(_l("Lift the suspension"))


class IssueKeyForm(Form):
    scopes = MultiCheckboxField(_l("What the key may do"), choices=SCOPE_CHOICES, default=[])
    submit = SubmitField(_l("Issue a key"))

    def validate_scopes(self, field):
        if not field.data:
            raise ValidationError(_l("Tick at least one."))


class RotateKeyForm(Form):
    confirm = BooleanField(
        _l("I understand: this token stops working now, and the new one is shown only once."),
        validators=[DataRequired(message=_l("Tick the box to confirm the rotation."))],
    )
    submit = SubmitField(_l("Rotate"))


class RevokeKeyForm(Form):
    confirm = BooleanField(
        _l("I understand: this key stops working now, for good."),
        validators=[DataRequired(message=_l("Tick the box to confirm the revocation."))],
    )
    submit = SubmitField(_l("Revoke"))
