"""The log integrator: queued leaves of access events become leaves of the
log in batches, each event learns its index, and each batch is signed as
one checkpoint, all in one transaction. It runs in `portal worker` (and in
the job thread of a one-process `portal serve`), never in a request. One
integrator at a time holds the log's head (see `transparency.log`); a
second one waits, then finds the queue without what the first one took."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portal.audit.models import AccessEvent
from portal.transparency import log
from portal.transparency.checkpoints import latest_checkpoint
from portal.transparency.notes import Signer

BATCH = 2000  # leaves per transaction


def integrate(session: Session, signer: Signer, limit: int = BATCH) -> int:
    """One batch: returns how many leaves it sequenced (0: nothing queued).
    Flushes, never commits."""
    placed = log.integrate(session, limit)
    if not placed:
        return 0
    # ORM bulk UPDATE by primary key: one statement, executemany. It leaves
    # events already loaded in this session as they were: tell them too.
    session.execute(update(AccessEvent), [{"id": ref, "log_index": index} for ref, index in placed])
    for ref, index in placed:
        if (event := session.identity_map.get(identity_key(AccessEvent, ref))) is not None:
            set_committed_value(event, "log_index", index)
    latest_checkpoint(session, signer)  # the batch's size, signed once
    return len(placed)


def integrate_all(session: Session, signer: Signer, limit: int = BATCH) -> int:
    """Every batch queued now, each committed on its own (a command's or a
    test's way; the worker loops on `integrate`)."""
    total = 0
    while done := integrate(session, signer, limit):
        session.commit()
        total += done
    return total
