"""Fixtures of the repair tests: the disputes core's cast (tests/cast.py)."""

from tests.cast import EXE, JPEG, PDF, PNG, Cast, cast, count, db, events_of, the_vault  # noqa: F401
