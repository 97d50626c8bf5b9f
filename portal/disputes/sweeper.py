"""The deadline sweep while the portal serves: `portal worker` (or the job
thread of a one-process `portal serve`) runs `expire_overdue` at start-up
and then every SWEEP_MINUTES (default 60; 0 turns it off), each run in an
app context and a transaction of its own. `portal disputes expire` is the
same sweep, for cron."""

from __future__ import annotations

import logging

from flask import Flask

from portal.disputes.decisions import expire_overdue
from portal.extensions import session, vault

log = logging.getLogger(__name__)


def sweep_once(app: Flask) -> int:
    """One run; returns how many cases it settled. A failure is logged and
    rolled back: the next run tries again."""
    with app.app_context():
        try:
            done = expire_overdue(session(), vault(), unverifiable_policy=app.config["UNVERIFIABLE_POLICY"])
            session().commit()
        except Exception:  # noqa: BLE001 - the thread must outlive one bad run
            session().rollback()
            log.exception("the dispute deadline sweep failed; it runs again later")
            return 0
        if done:
            log.info("dispute deadline sweep settled %d case(s)", len(done))
        return len(done)
