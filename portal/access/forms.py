from __future__ import annotations

from datetime import date, timedelta

from wtforms import DateField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError

from portal.audit.names import PURPOSE_NAMES
from portal.audit.purposes import Purpose
from portal.forms import Form
from portal.i18n import lazy as _l
from portal.localtime import today as local_today
from portal.records.services import add_years

GRANTABLE = [
    Purpose.LOAN_APPROVAL,
    Purpose.CREDIT_CARD_APPROVAL,
    Purpose.GUARANTEE_REVIEW,
    Purpose.EMPLOYMENT_SCREENING,
]


class AccessFilterForm(Form):
    """GET filters of the access log (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    institution = SelectField(_l("Institution"), validators=[Optional()])
    purpose = SelectField(_l("Purpose"), validators=[Optional()])
    outcome = SelectField(
        _l("Outcome"),
        validators=[Optional()],
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("served", _l("Served")),
            SelectChoice("refused", _l("Refused")),
        ],
    )
    since = DateField(_l("From"), validators=[Optional()])
    # Not "Until": that is an authority's "valid until" elsewhere, and translations must differ.
    until = DateField(_l("Up to and including"), validators=[Optional()])
    submit = SubmitField(_l("Filter"))

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))


class GrantForm(Form):
    institution = SelectField(_l("Institution"), validators=[DataRequired(message=_l("Choose an institution."))])
    purpose = SelectField(
        _l("Purpose"), choices=[SelectChoice(p.value, PURPOSE_NAMES[p]) for p in GRANTABLE], validators=[DataRequired()]
    )
    valid_until = DateField(_l("Valid until"), validators=[DataRequired(message=_l("Choose a date."))])
    submit = SubmitField(_l("Grant authority"))

    def validate_valid_until(self, field):
        today = local_today()
        if field.data < today:
            raise ValidationError(_l("Choose today or a later date."))
        if field.data > add_years(today, 1):
            raise ValidationError(_l("An authority lasts at most one year; grant it again later if needed."))


class ConfirmForm(Form):
    submit = SubmitField(_l("Confirm"))


def default_valid_until() -> date:
    return local_today() + timedelta(days=90)
