"""Failed sign-ins sent at once all count. Found in review after the outside
attack run: the count was read, then written back plus one, so guesses sent
in parallel each wrote the same number and an attacker got more tries than
the limit. Each request here has its own session and transaction on the
real database, as two web workers would."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, SignInThrottle, User
from portal.accounts.services import create_user
from portal.accounts.signin import register_failure
from portal.extensions import vault

pytestmark = pytest.mark.committing  # sessions of their own, in two threads

ADDRESS = "203.0.113.9"


@pytest.mark.parametrize("role", [Role.PERSON, Role.OFFICER])
def test_two_failures_at_once_both_count(app, role):
    engine = app.extensions["portal.db"].engine
    with app.app_context(), Session(engine, expire_on_commit=False) as first:
        v = vault()
        v.register_versions(first)
        user = create_user(first, v, role=role, email="racer@test.example", display_name="r", password="x" * 12)
        first.commit()
        register_failure(first, v, user, ADDRESS)  # one failure before, so a row exists
        first.commit()

        register_failure(first, v, user, ADDRESS)  # the first request's failure, not committed yet
        outcome: list = []

        def other_request():
            with app.app_context(), Session(engine, expire_on_commit=False) as s:
                try:
                    register_failure(s, v, s.get(User, user.id), ADDRESS)
                    s.commit()
                    outcome.append("done")
                except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                    s.rollback()
                    outcome.append(exc)

        thread = threading.Thread(target=other_request)
        reached = threading.Event()

        def watch(_conn, _cursor, statement, *_args):
            if threading.current_thread() is thread and statement.lstrip().upper().startswith("UPDATE"):
                reached.set()  # the other request has read and is writing its count

        event.listen(engine, "before_cursor_execute", watch)
        try:
            thread.start()
            assert reached.wait(timeout=60)
            first.commit()
            thread.join(timeout=60)
        finally:
            event.remove(engine, "before_cursor_execute", watch)
        assert outcome == ["done"]
        first.expire_all()
        if role.is_staff:
            assert first.get(User, user.id).failed_logins == 3
        else:
            assert (
                first.scalar(select(SignInThrottle.failures).where(SignInThrottle.email_bidx == user.email_bidx)) == 3
            )
