"""Fixtures of the compliance tests: the disputes core's cast
(tests/cast.py) and staff (tests/officers.py)."""

from tests.cast import EXE, JPEG, PDF, PNG, Cast, cast, count, db, events_of, the_vault  # noqa: F401
from tests.officers import staff  # noqa: F401
