"""When an open case is overdue: one definition for the statistics and the
supervisors' view. Its clock (`Clock.days_left`) has run out: a running
clock once today is past `due_on`; a paused one keeps the days it had when
it stopped, so only if it stopped after `due_on`.

The running ones are counted in SQL. The day a clock stopped is the
portal's local day of a UTC moment, which SQL cannot tell portably: the
paused ones already past `due_on` (a few) are read and checked against
their `Clock`, as the queue does."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, null, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.disputes.deadlines import Clock
from portal.disputes.models import OPEN_STATUSES, Dispute
from portal.localtime import day_of


def overdue_by(
    session: Session, today: date, key: ColumnElement[Any] | InstrumentedAttribute[Any] | None = None
) -> dict[Any, int]:
    """Open cases overdue on `today`, by `key` (a column of the case, e.g.
    the officer holding it), or all of them under the key None."""
    group = key if key is not None else null()
    late = (Dispute.status.in_(OPEN_STATUSES), Dispute.due_on < today)
    running = select(group, func.count()).where(*late, Dispute.paused_since.is_(None))
    if key is not None:
        running = running.group_by(key)
    out: dict[Any, int] = {k: int(n) for k, n in session.execute(running) if n}
    paused = select(group, Dispute.due_on, Dispute.paused_since).where(*late, Dispute.paused_since.is_not(None))
    for k, due_on, since in session.execute(paused):
        if since is not None and Clock(due_on, day_of(since)).days_left(today) < 0:
            out[k] = out.get(k, 0) + 1
    return out


def overdue(session: Session, today: date) -> int:
    """All open cases overdue on `today`."""
    return overdue_by(session, today).get(None, 0)
