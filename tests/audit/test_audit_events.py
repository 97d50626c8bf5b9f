"""`portal audit verify` ties every event to its leaf: an event changed,
deleted or moved in the database is named, not only a damaged tree."""

import pytest
from sqlalchemy import text

from portal.audit.events import record_event
from portal.audit.models import EventKind, Outcome
from portal.extensions import session, vault
from portal.records.models import Subject
from portal.transparency.checkpoints import read_leaf_hashes

from ..factories import integrate

pytestmark = pytest.mark.committing  # `audit verify` opens a snapshot transaction of its own


@pytest.fixture
def logged(app, world):
    with app.app_context():
        s, v = session(), vault()
        a = s.get(Subject, world.person_a.id)
        for outcome in (Outcome.SERVED, Outcome.REFUSED, Outcome.SERVED):
            record_event(
                s,
                v,
                a,
                EventKind.INSTITUTION_QUERY,
                channel="api",
                outcome=outcome,
                institution_id=world.bank.id,
                purpose="loan_approval",
                detail={},
            )
        s.commit()
        integrate(s)
    return app


def tamper(app, sql):
    with app.app_context():
        session().execute(text(sql))
        session().commit()


def audit(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_an_intact_log_and_its_events_verify(logged):
    result = audit(logged)
    assert result.exit_code == 0, result.output
    assert "3 events recomputed" in result.output


def test_the_events_half_streams_and_reports_its_progress(logged, monkeypatch):
    """Events are read a batch at a time and the progress bar is told after
    each batch (a terminal shows it; the command is quiet without one)."""
    from portal.audit import events

    monkeypatch.setattr(events, "STREAM_BATCH", 2)
    told: list[int] = []
    with logged.app_context():
        s = session()
        assert events.audit_events(s, vault(), read_leaf_hashes(s), progress=told.append) == 3
    assert told == [2]  # after the first batch of two; the third ends the run
    result = audit(logged)
    assert "checking events" not in result.output


def test_events_still_queued_wait_for_their_leaf(logged, world):
    """An event the integrator has not reached is not a failure: it is
    checked once it has its leaf."""
    with logged.app_context():
        s = session()
        record_event(s, vault(), s.get(Subject, world.person_a.id), EventKind.SELF_QUERY, detail={})
        s.commit()
    result = audit(logged)
    assert result.exit_code == 0, result.output
    assert "3 events recomputed" in result.output
    with logged.app_context():
        integrate(session())
    result = audit(logged)
    assert result.exit_code == 0, result.output
    assert "4 events recomputed" in result.output


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("UPDATE access_events SET outcome = 'served' WHERE outcome = 'refused'", "no longer hashes to it"),
        ("UPDATE access_events SET purpose = 'court_enforcement' WHERE log_index = 0", "leaf 0: event"),
        ("DELETE FROM access_events WHERE log_index = 1", "leaf 1: no event has it"),
        ("UPDATE access_events SET log_index = 99 WHERE log_index = 2", "points at leaf 99"),
    ],
)
def test_a_rewritten_deleted_or_moved_event_is_named(logged, sql, fragment):
    tamper(logged, sql)
    result = audit(logged)
    assert result.exit_code == 1
    assert fragment in result.output
