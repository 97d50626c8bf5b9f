"""`portal worker`: the background jobs, off every request's path. Each job
runs on its own schedule in an app context and transactions of its own; a
failing run is logged and rolled back, and tried again next time.

Jobs: the log integrator (every LOG_INTEGRATE_SECONDS: queued access events
become leaves of the log, one signed checkpoint per batch), telling subjects
of institutions' queries once they are in the log (as often), activation codes
and password reset links for queued requests (every REGISTRATION_SECONDS),
the access monitoring's rules over new events (every MONITORING_SECONDS),
the dispute
deadline sweep (every SWEEP_MINUTES), the delivery of queued e-mail the
request processes could not send (every MAIL_RETRY_SECONDS, when a mail
server is configured) and, hourly, forgetting API Idempotency-Keys older
than IDEMPOTENCY_HOURS, counts of failed sign-ins older than a day and
operators' proposals past their 24 hours; every 10 seconds, re-wrapping data
keys under a newly approved key-encryption key;
between them its heartbeat (a row per process, which /readyz and /metrics
read). On PostgreSQL several workers may run: one
integrates at a time (the log's head), the sweep and the mail job claim
their cases and messages row by row (FOR UPDATE SKIP LOCKED). SQLite has
no row locks: run one worker there.

`portal serve` with one process runs the same jobs in a thread (`start`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from portal.access import notify
from portal.accounts import closure, recovery, registration, signin
from portal.admin import proposals
from portal.api import idempotency
from portal.audit.integrator import integrate_all
from portal.audit.log_routes import log_signer, witness_policy
from portal.audit.witnessing import Witnessing
from portal.compliance import monitoring
from portal.config import DEFAULT_PUBLIC_URL
from portal.disputes import sweeper
from portal.disputes.messages import tell_subject
from portal.extensions import session, vault
from portal.notifications.services import PENDING, Mailer, deliver, deliver_soon
from portal.records import retention as records_retention
from portal.site import heartbeats

log = logging.getLogger(__name__)
Job = Callable[[Flask], int]
WITNESS_JOB = "witness cosigning"
# The monitoring reads a backlog (a busy hour, a worker down for a while) a
# bounded number of batches per round, so the other jobs run in between.
MONITORING_BATCH = 1000  # events
MONITORING_BATCHES = 10  # per round
REWRAP_BATCH, REWRAP_BATCHES = 1000, 10


def _guarded(name: str, work: Callable[[], int]) -> int:
    try:
        return work()
    except Exception:  # noqa: BLE001 - the worker must outlive one bad run
        session().rollback()
        log.exception("%s failed; it runs again later", name)
        return 0


def integrate_log(app: Flask) -> int:
    """Sequence everything queued now, a batch per transaction."""
    with app.app_context():
        return _guarded("log integration", lambda: integrate_all(session(), log_signer()))


def cosign_checkpoints(app: Flask) -> int:
    """Ask the witnesses to cosign the log's newest checkpoint."""
    with app.app_context():
        if "portal.witnessing" not in app.extensions:  # it remembers which witnesses to ask again later
            app.extensions["portal.witnessing"] = Witnessing(witness_policy(app))
        job: Witnessing = app.extensions["portal.witnessing"]

        def cosign() -> int:
            kept = job.run(session())
            session().commit()
            return kept

        return _guarded("witness cosigning", cosign)


def send_codes(app: Flask) -> int:
    """Answer the queued requests for activation codes and password reset
    links."""
    public_url = app.config["PUBLIC_URL"] or DEFAULT_PUBLIC_URL
    return _drain(
        app,
        "activation codes",
        lambda: registration.send_codes(session(), vault()) + recovery.send_links(session(), vault(), public_url),
    )


def tell_of_queries(app: Flask) -> int:
    """Tell subjects of the institutions' queries the integrator has placed
    in the log since the last run."""
    return _drain(app, "query notices", lambda: notify.tell_of_queries(session(), vault()))


def monitor(app: Flask) -> int:
    """Run the access monitoring's rules over the days of the events placed
    in the log since the last run, at most MONITORING_BATCHES batches; alerts
    go to the officers' queue. A batch that fails is logged as an error and
    read again next round, every round until it passes."""
    return _drain(
        app,
        "access monitoring",
        lambda: monitoring.monitor_new_events(session(), vault(), MONITORING_BATCH),
        most=MONITORING_BATCHES,
    )


def _drain(app: Flask, name: str, batch: Callable[[], int], most: int | None = None) -> int:
    """Run `batch` until it has nothing left (or `most` times), committing
    each and e-mailing what it queued right after, as a request's messages
    are."""
    with app.app_context():

        def drain() -> int:
            total, runs = 0, 0
            while (most is None or runs < most) and (done := batch()):
                runs += 1
                session().commit()
                if pending := session().info.pop(PENDING, None):
                    deliver_soon(app, pending)
                total += done
            return total

        return _guarded(name, drain)


def deliver_mail(app: Flask) -> int:
    """E-mail what is still queued; returns how many went out."""
    with app.app_context():
        return _guarded("mail delivery", lambda: deliver(session(), vault(), Mailer(app.config)))


def forget_expired(app: Flask) -> int:
    """API Idempotency-Keys past IDEMPOTENCY_HOURS, and counts of failed
    sign-ins that count for nothing any more."""
    with app.app_context():

        def forget() -> int:
            done = idempotency.forget_old(session(), float(app.config["IDEMPOTENCY_HOURS"]))
            done += signin.forget_old(session())
            done += proposals.expire(session())
            session().commit()
            return done

        return _guarded("forgetting what has expired", forget)


def retention(app: Flask) -> int:
    """The daily lifecycle: negative records past their five years removed
    (their subjects told), access events' details past
    EVENT_DETAIL_RETENTION_YEARS shredded, and the receipts of closures and
    erasures forgotten once sent (or after RECEIPT_DAYS)."""
    years, days = app.config["EVENT_DETAIL_RETENTION_YEARS"], float(app.config["RECEIPT_DAYS"])
    return _drain(
        app,
        "retention",
        lambda: (
            records_retention.run(session(), vault(), tell_subject, years)
            + closure.forget_receipts(session(), vault(), days)
        ),
    )


def rewrap_keys(app: Flask) -> int:
    """After a key-encryption key rotation was approved in the console:
    re-wrap the data keys still under an older version, a batch per
    transaction (a few batches a round, so the other jobs run between)."""
    return _drain(app, "key re-wrapping", lambda: vault().rewrap_batch(session(), REWRAP_BATCH), most=REWRAP_BATCHES)


def heartbeat(app: Flask) -> int:
    """Stamp this process's heartbeat, which readiness and the metrics read."""
    with app.app_context():

        def stamp() -> int:
            heartbeats.beat(session(), heartbeats.this_worker())
            session().commit()
            return 1

        return _guarded("heartbeat", stamp)


def jobs(app: Flask) -> list[tuple[str, float, Job]]:
    """(name, seconds between runs, job) for every job this app has on."""
    out: list[tuple[str, float, Job]] = [
        ("log integration", float(app.config["LOG_INTEGRATE_SECONDS"]), integrate_log),
        ("query notices", float(app.config["LOG_INTEGRATE_SECONDS"]), tell_of_queries),
        ("codes and links", float(app.config["REGISTRATION_SECONDS"]), send_codes),
    ]
    if any(w.url for w in witness_policy(app).witnesses):
        out.append((WITNESS_JOB, float(app.config["WITNESS_SECONDS"]), cosign_checkpoints))
    if (minutes := float(app.config.get("SWEEP_MINUTES") or 0)) > 0:
        out.append(("dispute deadline sweep", minutes * 60, sweeper.sweep_once))
    if Mailer(app.config).enabled:
        out.append(("mail delivery", float(app.config["MAIL_RETRY_SECONDS"]), deliver_mail))
    out.append(("forgetting what has expired", 3600.0, forget_expired))
    out.append(("retention", 86400.0, retention))
    out.append(("access monitoring", float(app.config["MONITORING_SECONDS"]), monitor))
    out.append(("key re-wrapping", 10.0, rewrap_keys))
    # Among the other jobs, so a worker stuck in one goes stale.
    out.append(("heartbeat", _heartbeat_every(app), heartbeat))
    return out


def _heartbeat_every(app: Flask) -> float:
    """Often enough that a heartbeat is never older than HEARTBEAT_SECONDS
    while the worker runs, and at most once a second."""
    return max(1.0, min(15.0, float(app.config["HEARTBEAT_SECONDS"]) / 4))


def run(app: Flask, stop: threading.Event, once: bool = False) -> dict[str, int]:
    """Run every job when due until `stop` is set (or each once, with
    `once`); returns how much each job did in all. Witness cosigning runs
    in a thread of its own: a witness slow to answer must not hold up the
    log's integration."""
    schedule = jobs(app)
    done = dict.fromkeys((name for name, _, _ in schedule), 0)
    witnessing = [j for j in schedule if j[0] == WITNESS_JOB]
    lane = threading.Thread(
        target=_loop, args=(app, witnessing, stop, once, done), name="portal-witnessing", daemon=True
    )
    if witnessing:
        lane.start()
    try:
        _loop(app, [j for j in schedule if j[0] != WITNESS_JOB], stop, once, done)
    finally:
        if not once:
            stop.set()
        if witnessing:
            lane.join()
    return done


def _loop(
    app: Flask, schedule: list[tuple[str, float, Job]], stop: threading.Event, once: bool, done: dict[str, int]
) -> None:
    due = dict.fromkeys((name for name, _, _ in schedule), 0.0)
    while schedule:
        for name, every, job in schedule:
            if (now := time.monotonic()) >= due[name]:
                done[name] += job(app)
                due[name] = now + every
        if once or stop.wait(max(0.0, min(due.values()) - time.monotonic())):
            return


def start(app: Flask) -> tuple[threading.Thread, threading.Event]:
    """The jobs in a daemon thread of this process; returns it with the
    event that stops it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(app, stop), name="portal-jobs", daemon=True)
    thread.start()
    return thread, stop
