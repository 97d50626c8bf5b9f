"""Two requests at once on one subject or one case, each in its own
session and transaction on the real database: the second waits for the
first and then sees it, so neither the five-file cap nor the duplicate
check can be passed twice."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.disputes.evidence import Upload
from portal.disputes.lifecycle import StaleDispute
from portal.disputes.models import Dispute, Evidence
from portal.disputes.services import DuplicateDispute, add_evidence, file_dispute
from portal.extensions import vault
from portal.records.models import CreditRecord, Subject

from .conftest import PDF

pytestmark = pytest.mark.committing  # sessions of their own, in two threads


def second(app, work):
    """Run work(session) in another thread with a session of its own;
    returns (thread, outcome list)."""
    outcome: list = []

    def run():
        with app.app_context(), Session(app.extensions["portal.db"].engine, expire_on_commit=False) as s:
            try:
                work(s)
                s.commit()
                outcome.append("done")
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                s.rollback()
                outcome.append(exc)

    thread = threading.Thread(target=run)
    return thread, outcome


@pytest.fixture
def sessions(app, world):
    engine = app.extensions["portal.db"].engine
    with (
        app.app_context(),
        Session(engine, expire_on_commit=False) as first,
        Session(engine, expire_on_commit=False) as other,
    ):
        yield first, other, vault()


def test_two_replies_at_once_cannot_pass_the_five_file_cap(app, world, sessions):
    first, other, v = sessions
    a = first.get(Subject, world.person_a.id)
    (loan, _card) = first.scalars(select(CreditRecord.id).where(CreditRecord.subject_id == a.id)).all()
    d = file_dispute(
        first,
        v,
        a,
        first.get(User, world.user_a.id),
        [loan],
        "wrong_amount",
        "Wrong.",
        [Upload(f"{n}.pdf", PDF) for n in range(3)],
    )
    first.commit()
    seen = other.get(Dispute, d.id)  # the other request has read the case: three files
    assert len(seen.evidence) == 3

    add_evidence(first, v, d, first.get(User, world.user_a.id), [Upload("4.pdf", PDF), Upload("5.pdf", PDF)])
    thread, outcome = second(
        app,
        lambda s: add_evidence(
            s, v, s.merge(seen, load=False), s.get(User, world.user_a.id), [Upload("6.pdf", PDF), Upload("7.pdf", PDF)]
        ),
    )
    thread.start()  # blocks on the case's lock (or finds it moved) until the first commits
    first.commit()
    thread.join(timeout=60)
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], StaleDispute), outcome
    assert first.scalar(select(func.count()).select_from(Evidence).where(Evidence.dispute_id == d.id)) == 5


def test_two_filings_at_once_cannot_both_pass_the_duplicate_check(app, world, sessions):
    from sqlalchemy import event

    first, _other, v = sessions
    a = first.get(Subject, world.person_a.id)
    (loan, _card) = first.scalars(select(CreditRecord.id).where(CreditRecord.subject_id == a.id)).all()
    file_dispute(first, v, a, first.get(User, world.user_a.id), [loan], "wrong_amount", "Wrong.")
    thread, outcome = second(
        app,
        lambda s: file_dispute(
            s, v, s.get(Subject, a.id), s.get(User, world.user_a.id), [loan], "wrong_amount", "Wrong too."
        ),
    )
    # The first commits only once the second has got as far as taking its
    # turn (or, were there no turns, as reading for duplicates).
    reached = threading.Event()

    def watch(_conn, _cursor, statement, *_args):
        if threading.current_thread() is thread and (
            statement.startswith("UPDATE subjects") or "FROM disputes" in statement
        ):
            reached.set()

    engine = app.extensions["portal.db"].engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        thread.start()
        assert reached.wait(timeout=60)
        first.commit()
        thread.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], DuplicateDispute), outcome
    assert first.scalar(select(func.count()).select_from(Dispute)) == 1
