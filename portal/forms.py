"""The base of every form: what every field refuses (see `portal.text`)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm

from portal.i18n import N_, translate
from portal.text import has_control


class Form(FlaskForm):
    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            values = field.data if isinstance(field.data, list) else [field.data]
            if any(isinstance(v, str) and has_control(v) for v in values):
                field.errors = [*field.errors, translate(N_("Remove the control characters from this field."))]
                valid = False
        return valid
