"""Forms of erasure requests: the person's request, and the officer's
decision (accept, with a tick that says what it does; refuse, with a
reason)."""

from __future__ import annotations

from wtforms import BooleanField, RadioField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.compliance.erasure import GROUND_NAMES, MAX_REASON, MAX_STATEMENT, ErasureGround
from portal.compliance.forms import choices
from portal.forms import Form
from portal.i18n import lazy as _l


class ErasureRequestForm(Form):
    ground = RadioField(
        _l("Why should your file be erased?"),
        choices=choices([(g.value, GROUND_NAMES[g]) for g in ErasureGround]),
        validators=[DataRequired(message=_l("Choose a ground."))],
    )
    statement = TextAreaField(
        _l("Explain (required for another ground)"), validators=[Optional(), Length(max=MAX_STATEMENT)]
    )
    submit = SubmitField(_l("Send the request"))


class AcceptForm(Form):
    understood = BooleanField(
        _l("I have checked the request: erase this file now. This cannot be undone."),
        validators=[DataRequired(message=_l("Tick the box to confirm the erasure."))],
    )
    submit = SubmitField(_l("Accept and erase the file"))


class RefuseForm(Form):
    reason = TextAreaField(
        _l("The reason for the refusal (the person reads it)"),
        validators=[
            DataRequired(message=_l("Give the reason for the refusal: the person reads it.")),
            Length(max=MAX_REASON),
        ],
    )
    submit = SubmitField(_l("Refuse the request"))
