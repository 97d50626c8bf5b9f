"""Forms of the institution oversight pages: the period of the figures, a
supervisor's suspension and its lifting, and the declared query hours."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from wtforms import BooleanField, DateField, HiddenField, IntegerField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

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
        _l("I understand: its report queries will be refused until a supervisor lifts the suspension."),
        validators=[DataRequired(message=_l("Tick the box to confirm the suspension."))],
    )
    submit = SubmitField(_l("Suspend its queries"))


class LiftForm(_Step):
    reason = TextAreaField(
        _l("Why is the suspension lifted?"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=MAX_REASON)],
    )
    submit = SubmitField(_l("Lift the suspension"))


class HoursForm(Form):
    """A supervisor declares the local hours the institution queries in
    (whole hours; until before from spans midnight), or any hour."""

    start = IntegerField(
        _l("From (hour)"), validators=[Optional(), NumberRange(0, 23, message=_l("A whole hour from 0 to 23."))]
    )
    until = IntegerField(
        _l("Until (hour, not included)"),
        validators=[Optional(), NumberRange(0, 23, message=_l("A whole hour from 0 to 23."))],
    )
    any_hour = BooleanField(_l("Any hour (no declared hours)"))
    submit = SubmitField(_l("Save the query hours"))

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        given = self.start.data is not None or self.until.data is not None
        if self.any_hour.data:
            if given:
                self.any_hour.errors = [translate(N_("Give hours or tick any hour, not both."))]
                return False
            return True
        for field in (self.start, self.until):
            if field.data is None:
                field.errors = [translate(N_("Give a whole hour from 0 to 23, or tick any hour."))]
                return False
        if self.start.data == self.until.data:
            self.until.errors = [translate(N_("The hours must differ; tick any hour for no limit."))]
            return False
        return True

    def hours(self) -> tuple[int | None, int | None]:
        return (None, None) if self.any_hour.data else (self.start.data, self.until.data)
