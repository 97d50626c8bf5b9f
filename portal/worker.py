"""`portal worker`: the background jobs, in a process of their own, off every
request's path. Each job runs on its own schedule in an app context and a
transaction of its own; a failing run is logged and tried again next time.

Jobs: the dispute deadline sweep (every SWEEP_MINUTES) and the delivery of
queued e-mail the request processes could not send (every MAIL_RETRY_SECONDS,
when a mail server is configured). Run one worker: the sweep and the mail
job do not yet claim their work row by row."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from portal.disputes import sweeper
from portal.extensions import session, vault
from portal.notifications.services import Mailer, deliver

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0


def deliver_mail(app: Flask) -> int:
    """E-mail what is still queued; returns how many went out."""
    with app.app_context():
        try:
            return deliver(session(), vault(), Mailer(app.config))
        except Exception:  # noqa: BLE001 - the worker must outlive one bad run
            session().rollback()
            log.exception("mail delivery failed; it runs again later")
            return 0


def jobs(app: Flask) -> list[tuple[str, float, Callable[[Flask], int]]]:
    """(name, seconds between runs, job) for every job this app has on."""
    out: list[tuple[str, float, Callable[[Flask], int]]] = []
    if (minutes := float(app.config.get("SWEEP_MINUTES") or 0)) > 0:
        out.append(("dispute deadline sweep", minutes * 60, sweeper.sweep_once))
    if Mailer(app.config).enabled:
        out.append(("mail delivery", float(app.config["MAIL_RETRY_SECONDS"]), deliver_mail))
    return out


def run(app: Flask, stop: threading.Event, once: bool = False) -> dict[str, int]:
    """Run every job when due until `stop` is set (or each once, with
    `once`); returns how much each job did in all."""
    schedule = jobs(app)
    due = dict.fromkeys((name for name, _, _ in schedule), 0.0)
    done = dict.fromkeys(due, 0)
    while True:
        for name, every, job in schedule:
            if (now := time.monotonic()) >= due[name]:
                done[name] += job(app)
                due[name] = now + every
        if once or stop.wait(TICK_SECONDS):
            return done
