"""Forms of the alert pages. Every step's form carries the status the
alert had when the page was shown, so a step based on a page that has
since moved on is refused as stale."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from portal.compliance.alerts import MAX_REASON, STATUS_NAMES
from portal.compliance.forms import choices
from portal.compliance.models import AlertStatus
from portal.compliance.monitoring import RULES
from portal.forms import Form
from portal.i18n import lazy as _l

STATUS_FILTERS = ("active", "all", *(s.value for s in AlertStatus))


class AlertFilterForm(Form):
    """GET filters of the queue (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        default="active",
        validators=[Optional()],
        choices=choices(
            [("active", _l("Not closed"))] + [(s.value, STATUS_NAMES[s]) for s in AlertStatus] + [("all", _l("All"))]
        ),
    )
    rule = SelectField(
        _l("Rule"), validators=[Optional()], choices=choices([("", _l("Any"))] + [(r, RULES[r].title) for r in RULES])
    )
    submit = SubmitField(_l("Filter"))


class StepForm(Form):
    seen = HiddenField(validators=[InputRequired(), AnyOf([s.value for s in AlertStatus])])


class AcknowledgeForm(StepForm):
    submit = SubmitField(_l("Acknowledge"))


class EscalateForm(StepForm):
    reason = TextAreaField(_l("Why escalate (optional)"), validators=[Optional(), Length(max=MAX_REASON)])
    submit = SubmitField(_l("Escalate to a supervisor"))


class CloseForm(StepForm):
    reason = TextAreaField(
        _l("Why close it"),
        validators=[DataRequired(message=_l("Say why the alert is closed.")), Length(max=MAX_REASON)],
    )
    submit = SubmitField(_l("Close the alert"))


FORMS = {"acknowledge": AcknowledgeForm, "escalate": EscalateForm, "close": CloseForm}
