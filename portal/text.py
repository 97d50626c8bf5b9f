"""Text that people and institutions send. Control characters (NUL, escape
sequences, the C1 range) are refused in every field, on every page and in
the API: they hide text from reviewers, break exports and terminals, and no
name, reference or statement needs them. Tabs and line breaks are text."""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control(value: str) -> bool:
    return CONTROL.search(value) is not None
