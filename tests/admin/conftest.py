"""Administrators for the operator console's tests: two, so that one can
propose and the other approve, each with a second factor (staff can do
nothing without one), and an officer to manage."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portal.accounts.models import Role, User
from portal.extensions import session, vault
from tests import factories as make
from tests.accounts.helpers import PASSWORD


@dataclass
class Admins:
    first: User
    second: User
    officer: User


@pytest.fixture
def admins(app) -> Admins:
    with app.app_context():
        s, v = session(), vault()
        out = Admins(
            make.user(s, v, Role.ADMINISTRATOR, "admin.one@staff.example", password=PASSWORD, second_factor=True),
            make.user(s, v, Role.ADMINISTRATOR, "admin.two@staff.example", password=PASSWORD, second_factor=True),
            make.user(s, v, Role.OFFICER, "officer@staff.example", password=PASSWORD, second_factor=True),
        )
        s.commit()
    return out


@pytest.fixture
def as_admin(app, sign_in, admins):
    """A client signed in as an administrator, in English."""

    def client(who: User | None = None):
        c = sign_in(app.test_client(), who or admins.first)
        c.set_cookie("lang", "en")
        return c

    return client
