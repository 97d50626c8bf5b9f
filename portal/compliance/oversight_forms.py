"""Forms of the institution oversight pages: the period of the figures, and
a supervisor's suspension and its lifting."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from wtforms import BooleanField, DateField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.compliance.oversight import MAX_REASON, default_period
from portal.forms import Form
from portal.i18n import N_, day, translate
from portal.i18n import lazy as _l
from portal.localtime import today as local_today

MAX_PERIOD_DAYS = 5 * 366
EARLIEST = date(2000, 1, 1)  # before the portal kept anything
AHEAD_DAYS = 366  # the latest date accepted, from today


class PeriodForm(Form):
    """GET: the period the figures cover (no CSRF: it changes nothing).
    An end not given is the default period's (`oversight.default_period`);
    dates are bounded, so the period's bounds are always real moments."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Until"), validators=[Optional()])
    submit = SubmitField(_l("Show"))

    def chosen(self, today: date) -> tuple[date, date]:
        """The period asked for, each end not given taken from the default;
        one end given on the wrong side of the other's default gives one day."""
        start, end = default_period(today)
        start, end = self.start.data or start, self.end.data or end
        if end < start:
            if self.start.data is None:
                start = end
            elif self.end.data is None:
                end = start
        return start, end

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        today = local_today()
        latest = today + timedelta(days=AHEAD_DAYS)
        bounded = True
        for field in (self.start, self.end):
            if field.data is not None and not EARLIEST <= field.data <= latest:
                field.errors = [
                    translate(
                        N_("Choose a date from %(earliest)s to %(latest)s."), earliest=day(EARLIEST), latest=day(latest)
                    )
                ]
                bounded = False
        if not bounded:
            return False
        start, end = self.chosen(today)
        if end < start:
            self.end.errors = [translate(N_("The end of the period comes before its start."))]
            return False
        if (end - start).days > MAX_PERIOD_DAYS:  # against a defaulted end too
            given = self.end if self.end.data is not None else self.start
            given.errors = [translate(N_("Choose a period of at most five years."))]
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
