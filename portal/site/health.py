"""Liveness, readiness and metrics for the operator's probes and scrapers.
None needs signing in, none shows a secret or personal data, none writes
the database; the security headers make every answer `no-store`.

- /healthz: the process answers; touches nothing.
- /readyz: the database answers, its schema is this code's, the key files
  load and match it (the check `portal serve` runs before serving), and a
  background worker stamped its heartbeat within HEARTBEAT_SECONDS; 503
  naming the failing checks otherwise.
- /metrics: Prometheus text, to loopback addresses or with the bearer
  METRICS_TOKEN; a 404 to anyone else."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.engine import Engine

from portal.crypto import Keyring, Vault
from portal.db import utcnow
from portal.extensions import database, limiter, session
from portal.signing import DocumentSigner
from portal.site import metrics
from portal.site.heartbeats import newest_beat
from portal.site.services import check_database

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
SCHEMA_CHECK = "portal.schema_at_head"  # app.extensions: (engine) -> bool, given by create_app


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    checks = {
        "database": _check(_database),
        "schema": _check(_schema),
        "keys": _check(_keys),
        "worker": _check(_worker),
    }
    ready = all(result == "ok" for result in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _check(probe: Callable[[], str | None]) -> str:
    """ "ok", or why not in a few words; the details (paths, driver errors)
    go to the log only. Nothing a check did stays in the session."""
    try:
        problem = probe()
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not fail the request
        log.warning("readiness check %s failed: %s", probe.__name__.strip("_"), exc)
        problem = "failed"
    finally:
        session().rollback()
    return problem or "ok"


def _database() -> str | None:
    check_database(session())
    return None


def _schema() -> str | None:
    at_head: Callable[[Engine], bool] = current_app.extensions[SCHEMA_CHECK]
    return None if at_head(database().engine) else "not at this version's schema: run portal init"


def _keys() -> str | None:
    # Read from the files again, not the loaded vault: a key file removed or
    # swapped since start-up shows here.
    Vault(Keyring.load(current_app.config["KEY_DIR"])).register_versions(session())
    DocumentSigner.load(current_app.config["KEY_DIR"])
    return None


def _worker() -> str | None:
    beat = newest_beat(session())
    if beat is None:
        return "no heartbeat: is portal worker running?"
    if utcnow() - beat > timedelta(seconds=float(current_app.config["HEARTBEAT_SECONDS"])):
        return "heartbeat stale"
    return None


@bp.get("/metrics")
@limiter.exempt
def scrape():
    if not _may_scrape():
        abort(404)
    return Response(metrics.exposition(session()), content_type=CONTENT_TYPE_LATEST)


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def register(app: Flask, schema_at_head: Callable[[Engine], bool]) -> None:
    """The routes, and request metrics for every request."""
    app.extensions[SCHEMA_CHECK] = schema_at_head
    app.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        if not g.get("metrics_observed"):  # after a failed commit the hooks run again
            g.metrics_observed = True
            started = g.get("metrics_started", time.perf_counter())
            metrics.observe(request.endpoint, response.status_code, time.perf_counter() - started)
        return response
