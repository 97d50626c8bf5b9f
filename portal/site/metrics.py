"""Metrics in the Prometheus text format. Request counts and latencies are
kept in this process (across gunicorn's processes through prometheus-client's
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set); the portal's state
is read from the database at scrape time with a few aggregate queries.
Labels name the Flask endpoint, never the path (paths hold identifiers)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import PasswordResetRequest, RegistrationRequest
from portal.compliance.models import Alert, AlertStatus
from portal.compliance.overdue import overdue
from portal.localtime import today
from portal.notifications.models import Message
from portal.site.heartbeats import newest_beat
from portal.transparency.models import LogHead, LogQueue

# Not registered anywhere: each scrape builds its registry (below).
REQUESTS = Counter("portal_http_requests", "HTTP requests answered", ["endpoint", "status_class"], registry=None)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["endpoint", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)
ERRORS = Counter("portal_http_errors", "HTTP requests answered with a server error (5xx)", ["endpoint"], registry=None)


def observe(endpoint: str | None, status: int, seconds: float) -> None:
    endpoint = endpoint or "unmatched"
    status_class = f"{status // 100}xx"
    REQUESTS.labels(endpoint, status_class).inc()
    LATENCY.labels(endpoint, status_class).observe(seconds)
    if status >= 500:
        ERRORS.labels(endpoint).inc()


class _Gauges(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def state_gauges(session: Session) -> list[GaugeMetricFamily]:
    """The portal's state now, one cheap query each; reads only."""
    now = datetime.now(UTC)

    def count(model: type, *where: object) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]

    queued, oldest = session.execute(select(func.count(), func.min(LogQueue.queued_at))).one()
    log_size = session.scalar(select(func.max(LogHead.size))) or 0
    unsent = count(Message, Message.email_ct.is_not(None), Message.emailed_at.is_(None))
    open_alerts = count(Alert, Alert.status != AlertStatus.CLOSED)
    out = [
        _gauge("portal_log_leaves", "Leaves in the transparency log", log_size),
        _gauge("portal_log_queue_events", "Access events queued, not yet in the log", queued),
        _gauge(
            "portal_log_queue_oldest_age_seconds",
            "Age of the oldest access event not yet in the log (0 when none waits)",
            (now - oldest).total_seconds() if oldest else 0,
        ),
        _gauge("portal_mail_outbox_unsent", "E-mails queued and not yet sent", unsent),
        _gauge("portal_registration_requests_waiting", "Activation code requests waiting", count(RegistrationRequest)),
        _gauge("portal_password_reset_requests_waiting", "Reset link requests waiting", count(PasswordResetRequest)),
        _gauge("portal_alerts_open", "Access monitoring alerts not closed", open_alerts),
        _gauge("portal_disputes_overdue", "Open disputes past their answer date", overdue(session, today())),
    ]
    if (beat := newest_beat(session)) is not None:  # absent until a worker has run
        out.append(
            _gauge(
                "portal_worker_heartbeat_age_seconds",
                "Seconds since the newest background worker heartbeat",
                max(0.0, (now - beat).total_seconds()),
            )
        )
    return out


def exposition(session: Session) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every process's request metrics
    else:
        for metric in (REQUESTS, LATENCY, ERRORS):
            registry.register(metric)
    registry.register(_Gauges(state_gauges(session)))
    return generate_latest(registry)
