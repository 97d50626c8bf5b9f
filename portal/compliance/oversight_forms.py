"""Forms of the institution oversight pages: the period of the figures, and
a supervisor's suspension and its lifting."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, DateField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.compliance.oversight import MAX_REASON
from portal.forms import Form
from portal.i18n import N_, translate
from portal.i18n import lazy as _l

MAX_PERIOD_DAYS = 5 * 366


class PeriodForm(Form):
    """GET: the period the figures cover (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Until"), validators=[Optional()])
    submit = SubmitField(_l("Show"))

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.start.data and self.end.data:
            if self.end.data < self.start.data:
                self.end.errors = [translate(N_("The end of the period comes before its start."))]
                return False
            if (self.end.data - self.start.data).days > MAX_PERIOD_DAYS:
                self.end.errors = [translate(N_("Choose a period of at most five years."))]
                return False
        return True


class SuspendForm(Form):
    reason = TextAreaField(
        _l("Why are its queries suspended? (the institution is told this)"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=MAX_REASON)],
    )
    confirm = BooleanField(
        _l("I understand: its report queries will be refused until a supervisor lifts the suspension."),
        validators=[DataRequired(message=_l("Tick the box to confirm the suspension."))],
    )
    submit = SubmitField(_l("Suspend its queries"))


class LiftForm(Form):
    reason = TextAreaField(
        _l("Why is the suspension lifted?"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=MAX_REASON)],
    )
    submit = SubmitField(_l("Lift the suspension"))
