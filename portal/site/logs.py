"""Logs as JSON lines, each request with an id, and one access line per
request. The access line names the Flask endpoint, never the path: paths
carry identifiers (`/api/v1/reports/<identifier>`), query strings too."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, Response, g, has_request_context, request

ACCESS = logging.getLogger("portal.requests")
HEADER = "X-Request-ID"
# An incoming id is kept only when short and plain: it is echoed and logged.
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_HANDLER_MARK = "_portal_handler"


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the
    request's id, endpoint and status where known."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            out["request_id"] = request_id()
            out["endpoint"] = request.endpoint
        for name in ("method", "status", "duration_ms"):
            if (value := getattr(record, name, None)) is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    """Gives plain-text records the request id their format names."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


def configure(fmt: str, stream: IO[str] | None = None) -> logging.Handler:
    """The root logger writes `fmt` ("json" or "text") lines at INFO to
    `stream` (stderr). Calling it again replaces the handler it added."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.addFilter(_RequestIdFilter())
        handler.setFormatter(logging.Formatter(_TEXT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # SQLAlchemy logs statements with their parameters at INFO: never. The
    # PDF font subsetter logs some forty lines per document at INFO, Alembic
    # two per readiness probe.
    for noisy in ("sqlalchemy", "fontTools", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


def register(app: Flask) -> None:
    """Request ids and the access line; the handler itself unless TESTING
    (pytest captures logs its own way)."""
    if not app.testing:
        configure(app.config["LOG_FORMAT"])

    @app.before_request
    def _start() -> None:
        given = request.headers.get(HEADER, "")
        g.request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _access_line(response: Response) -> Response:
        response.headers[HEADER] = g.get("request_id") or ""
        if not g.get("request_logged"):  # after a failed commit the hooks run again
            g.request_logged = True
            started = g.get("request_started", time.perf_counter())
            ACCESS.info(
                "%s %s %s",
                request.method,
                request.endpoint or "unmatched",
                response.status_code,
                extra={
                    "method": request.method,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response

    def _log_exception(exc_info: Any) -> None:
        # Flask's own names the path, which may hold an identifier.
        app.logger.error("Exception in %s [%s]", request.endpoint, request.method, exc_info=exc_info)

    # Flask's documented override point is a subclass; one method, so set on the app.
    app.log_exception = _log_exception  # type: ignore[method-assign]
