"""A query and a withdrawal of its basis at the same moment, on two
connections: the query waits for the withdrawal and is refused, never
served on a consent revoked (or a file locked) before it decided. Each
subject is held on its own: no lock shared by every request."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access import consents, lock
from portal.access.basis import Reason
from portal.accounts.models import User
from portal.api.services import query_report
from portal.audit.purposes import Purpose
from portal.extensions import vault
from portal.institutions.models import ApiKey, Institution
from portal.localtime import today as portal_today
from portal.records.models import Subject

from .conftest import grant

pytestmark = pytest.mark.committing  # two connections, each committing for real


def query_in_thread(app, subject_id, bank_id, outcome: list) -> threading.Thread:
    def run() -> None:
        with app.app_context(), Session(app.extensions["portal.db"].engine) as s:
            bank = s.get(Institution, bank_id)
            key = s.scalar(select(ApiKey).where(ApiKey.institution_id == bank_id))
            result = query_report(
                s, vault(), bank, key, s.get(Subject, subject_id), Purpose.LOAN_APPROVAL, None, portal_today()
            )
            s.commit()
            outcome.append(result.basis)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("withdrawal", ["revoke the consent", "lock the file"])
def test_a_query_waits_for_a_withdrawal_under_way_and_is_refused(app, api, withdrawal):
    world = api.world
    consent_id = grant(app, world.person_a.id, world.bank.id)
    engine = app.extensions["portal.db"].engine
    with app.app_context(), Session(engine) as s:
        a, user = s.get(Subject, world.person_a.id), s.get(User, world.user_a.id)
        if withdrawal == "revoke the consent":
            consents.revoke(s, vault(), a, consent_id, user)
        else:
            lock.set_lock(s, vault(), a, user)
        s.flush()  # withdrawn, holding the subject, not yet committed
        outcome: list = []
        thread = query_in_thread(app, world.person_a.id, world.bank.id, outcome)
        time.sleep(0.5)  # the query has every chance to run ahead
        assert outcome == []  # ... and does not: it waits for the subject
        s.commit()
    thread.join(timeout=60)
    assert not thread.is_alive()
    (basis,) = outcome
    assert not basis.allowed
    # No live consent is left (the query named none), or the file is locked.
    assert basis.reason is (Reason.CONSENT_REQUIRED if withdrawal == "revoke the consent" else Reason.FILE_LOCKED)


def test_queries_of_other_subjects_do_not_wait(app, api):
    """A withdrawal under way for person A holds A alone: on PostgreSQL a
    query of person B goes through meanwhile. SQLite has one writer: there
    B's query waits for A's transaction, then goes through."""
    world = api.world
    grant(app, world.person_a.id, world.bank.id)
    grant(app, world.person_b.id, world.bank.id)
    engine = app.extensions["portal.db"].engine
    one_writer = engine.dialect.name == "sqlite"
    with app.app_context(), Session(engine) as s:
        a, user = s.get(Subject, world.person_a.id), s.get(User, world.user_a.id)
        lock.set_lock(s, vault(), a, user)
        s.flush()
        outcome: list = []
        thread = query_in_thread(app, world.person_b.id, world.bank.id, outcome)
        if one_writer:
            time.sleep(0.5)
            assert outcome == []
            s.commit()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert outcome[0].allowed
