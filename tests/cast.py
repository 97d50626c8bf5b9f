"""Fixtures for the disputes core (disputes, compliance, repair): the
world's records, an officer, and small valid files of each accepted kind.
Each of those directories' conftest imports the fixtures from here."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.audit.models import AccessEvent
from portal.records.models import CreditRecord, Subject
from tests.files import EXE, JPEG, PDF, PNG  # noqa: F401 - the disputes tests import them from here


@dataclass
class Cast:
    a: Subject
    b: Subject
    user_a: User
    user_b: User
    officer: User
    officer2: User
    loan_a: CreditRecord
    card_a: CreditRecord
    loan_b: CreditRecord


@pytest.fixture
def db(world, ctx):
    """The world is built (in an app context of its own, which removes the
    scoped session when popped) before this test's session is taken."""
    from portal.extensions import session

    return session()


@pytest.fixture
def the_vault(db):
    from portal.extensions import vault

    return vault()


@pytest.fixture
def cast(world, db, the_vault) -> Cast:
    from tests.factories import user

    a, b = db.get(Subject, world.person_a.id), db.get(Subject, world.person_b.id)
    recs_a = db.scalars(select(CreditRecord).where(CreditRecord.subject_id == a.id)).all()
    (loan_b,) = db.scalars(select(CreditRecord).where(CreditRecord.subject_id == b.id)).all()
    assert len(recs_a) == 2
    officer = user(db, the_vault, Role.OFFICER, "officer@test.example")
    officer2 = user(db, the_vault, Role.OFFICER, "officer2@test.example")
    db.commit()
    return Cast(
        a,
        b,
        db.get(User, world.user_a.id),
        db.get(User, world.user_b.id),
        officer,
        officer2,
        recs_a[0],
        recs_a[1],
        loan_b,
    )


def count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def events_of(db, subject) -> int:
    return count(db, AccessEvent, AccessEvent.subject_id == subject.id)
