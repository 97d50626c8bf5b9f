"""Settings, in rising precedence: defaults here, `instance/config.py`,
`PORTAL_*` environment variables, then the mapping given to create_app()."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Config, Flask

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: SQLite in the instance folder
    "KEY_DIR": None,  # default: <instance>/keys
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 60 * 1024 * 1024,
    "IDLE_TIMEOUT_MINUTES": 30,
    "ABSOLUTE_TIMEOUT_HOURS": 12,
    "REAUTH_MINUTES": 5,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "RATELIMIT_STORAGE_URI": "memory://",  # redis://127.0.0.1:6379 with several workers
    "RATELIMIT_HEADERS_ENABLED": True,
    "MAIL_SERVER": None,  # e-mail is sent when set; always kept in the outbox
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_FROM": "portal@localhost",
    # The portal's address in e-mailed links (never taken from a request's Host
    # header). Unset: `portal serve` sets it from --host and --port.
    "PUBLIC_URL": None,
    "LOG_ORIGIN": "credit-subject-portal.example/log",  # the log's name in every checkpoint
    "API_RATE_LIMIT": "120 per minute",  # per institution API key
    "PROXY_COUNT": 0,  # reverse proxies in front (X-Forwarded-For is trusted that deep)
    # None: on (cookies only over HTTPS, and HSTS), except when `portal serve`
    # listens on a loopback address (a local try-out over plain HTTP).
    "SESSION_COOKIE_SECURE": None,
    "DISPUTE_REGIME": "cn_20_days",  # or fcra_30_days, gdpr_one_month: the deadline of new disputes
    "UNVERIFIABLE_POLICY": "mark",  # or delete: a record nobody could verify is marked, or removed
    "LOG_INTEGRATE_SECONDS": 0.2,  # how often queued access events are sequenced into the log
    # Witnesses that cosign the log's checkpoints, as JSON:
    # {"quorum": 1, "witnesses": [{"key": "<verifier key>", "url": "http://..."}]}
    "WITNESSES": None,
    "WITNESS_SECONDS": 1.0,  # how often `portal worker` asks them to cosign the newest checkpoint
    "MAIL_RETRY_SECONDS": 60,  # `portal worker` sends what is still queued this often
    "REGISTRATION_SECONDS": 1.0,  # `portal worker` answers queued requests for activation codes this often
    "IDEMPOTENCY_HOURS": 24,  # how long an API Idempotency-Key and its answer are kept
    "SWEEP_MINUTES": 60,  # `portal serve` runs the dispute deadline sweep this often (0: never)
    "TIMEZONE": "Asia/Shanghai",  # where dispute deadlines count their calendar days
    "MONITORING_SECONDS": 60,  # how often `portal worker` runs the access monitoring over new events
    # Access monitoring rules overridden, as JSON: {"volume_spike": {"factor": 10}, "outside_hours":
    # {"enabled": false}}; what is not named keeps its default (MONITORING_DEFAULTS).
    "MONITORING_RULES": None,
    # /readyz wants a background worker's heartbeat newer than this.
    "HEARTBEAT_SECONDS": 60,
    # /metrics answers loopback addresses, and anyone sending "Authorization: Bearer <this>" when set.
    "METRICS_TOKEN": None,
    "LOG_FORMAT": "json",  # or text: one JSON object per log line, or plain lines
    # Access events' details (what was seen, and what an institution was sent) are shredded this many
    # years after the event, by `portal worker`; at least 5. The event's row and its leaf stay.
    "EVENT_DETAIL_RETENTION_YEARS": 5,
    "RETENTION_NOTICE_DAYS": 90,  # the report counts the days down to a negative record's removal over this many
    "RECEIPT_DAYS": 30,  # a closure's or erasure's e-mailed receipt is forgotten once sent, or after this many days
}
# Where links point when PUBLIC_URL is unset: `portal serve`'s own default
# address (never a request's Host header).
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
# Set by `load`: SESSION_COOKIE_SECURE was left to its default (see `serve`).
SECURE_BY_DEFAULT = "SESSION_COOKIE_SECURE_BY_DEFAULT"
# Set by `load`: each setting's source (see `_sources`).
SOURCES = "SETTING_SOURCES"
# Settings with a fixed set of values, checked at start-up.
CHOICES: dict[str, tuple[str, ...]] = {
    "DISPUTE_REGIME": ("cn_20_days", "fcra_30_days", "gdpr_one_month"),
    "UNVERIFIABLE_POLICY": ("mark", "delete"),
    "LOG_FORMAT": ("json", "text"),
}
# The access monitoring's rules and their thresholds by default (each rule's
# meaning is `portal.compliance.monitoring.RULES`). Kept here, at the bottom
# of the layers, so that a setting naming an unknown rule or threshold stops
# start-up.
MONITORING_DEFAULTS: dict[str, dict[str, float]] = {
    # a day's queries >= factor x the mean of the 30 days before, and >= min_queries;
    # an institution with no query in those 30 days: >= new_institution_minimum
    "volume_spike": {"factor": 5, "min_queries": 20, "new_institution_minimum": 100},
    # refusals for want of consent or for a lock: >= same_subject on one subject
    # within `days` days, or >= per_day in one day overall
    "repeated_refusals": {"same_subject": 3, "days": 7, "per_day": 20},
    "outside_hours": {"min_queries": 1},  # queries outside the declared hours in a day
    "post_loan_without_contract": {"min_queries": 3},  # such refusals of one institution in a day
    "many_institutions": {"min_institutions": 4},  # distinct institutions querying one subject in a day
    # a staff member's reveals or case openings in a day >= factor x the median
    # of the other staff's, and >= min_count
    "staff_outliers": {"factor": 3, "min_count": 10},
    "complaint": {},  # every "I did not authorise this"
}


def monitoring_rules(setting: Any) -> dict[str, dict[str, Any]]:
    """The rules in effect: MONITORING_DEFAULTS with the setting's overrides
    (a JSON object, or one already parsed); raises ValueError saying what
    is wrong with it."""
    if setting is None or setting == "":
        setting = {}
    if isinstance(setting, str):
        try:
            setting = json.loads(setting)
        except ValueError as exc:
            raise ValueError(f"setting MONITORING_RULES is not JSON: {exc}") from None
    if not isinstance(setting, dict):
        raise ValueError('setting MONITORING_RULES: expected a JSON object {"rule": {"threshold": n, ...}}')
    out: dict[str, dict[str, Any]] = {rule: {**d, "enabled": True} for rule, d in MONITORING_DEFAULTS.items()}
    for rule, given in setting.items():
        if rule not in out:
            raise ValueError(
                f"setting MONITORING_RULES: no rule {rule!r}; the rules are: {', '.join(MONITORING_DEFAULTS)}"
            )
        if not isinstance(given, dict):
            raise ValueError(f"setting MONITORING_RULES: {rule} must be an object of thresholds")
        for name, value in given.items():
            if name == "enabled":
                if not isinstance(value, bool):
                    raise ValueError(f"setting MONITORING_RULES: {rule}.enabled must be true or false")
            elif name not in MONITORING_DEFAULTS[rule]:
                known = ", ".join([*MONITORING_DEFAULTS[rule], "enabled"])
                raise ValueError(f"setting MONITORING_RULES: {rule} has no threshold {name!r} (it has: {known})")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
                raise ValueError(f"setting MONITORING_RULES: {rule}.{name} must be a positive number, not {value!r}")
            out[rule][name] = value
    return out


def instance_path() -> str:
    """PORTAL_INSTANCE_PATH, or `instance/` beside the current directory."""
    return str(Path(os.environ.get("PORTAL_INSTANCE_PATH") or Path.cwd() / "instance").resolve())


def load(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PORTAL")
    if overrides:
        app.config.from_mapping(overrides)
    app.config[SOURCES] = _sources(app, overrides or {})
    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'portal.sqlite3'}"
    app.config["KEY_DIR"] = Path(app.config["KEY_DIR"] or instance / "keys")
    app.config[SECURE_BY_DEFAULT] = app.config["SESSION_COOKIE_SECURE"] is None
    if app.config[SECURE_BY_DEFAULT]:
        app.config["SESSION_COOKIE_SECURE"] = True
    for name, allowed in CHOICES.items():
        if app.config[name] not in allowed:
            raise ValueError(f"setting {name} is {app.config[name]!r}; choose one of: {', '.join(allowed)}")
    app.config["MONITORING_RULES"] = monitoring_rules(app.config["MONITORING_RULES"])
    beat = app.config["HEARTBEAT_SECONDS"]
    if isinstance(beat, bool) or not isinstance(beat, int | float) or not 0 < beat < 1e9:
        raise ValueError(f"setting HEARTBEAT_SECONDS is {beat!r}; it must be a positive number of seconds")
    try:
        ZoneInfo(app.config["TIMEZONE"])
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(
            f"setting TIMEZONE is {app.config['TIMEZONE']!r}, which is not an IANA time zone "
            "(for example Asia/Shanghai)"
        ) from None


def _sources(app: Flask, overrides: dict[str, Any]) -> dict[str, str]:
    """Where each setting's value came from, as the operator console shows
    it: the application's own mapping, a PORTAL_* variable, the instance's
    config.py, or the default."""
    from_file = Config(app.config.root_path)
    from_file.from_pyfile("config.py", silent=True)
    sources = {}
    for name in DEFAULTS:
        if name in overrides:
            sources[name] = "application"
        elif f"PORTAL_{name}" in os.environ:
            sources[name] = "environment"
        elif name in from_file:
            sources[name] = "instance"
        else:
            sources[name] = "default"
    return sources


def write_secret_key(instance: Path) -> Path:
    """Give `instance/config.py` a generated secret key: create the file
    (owner-only), or add the key to one that lacks it."""
    path = instance / "config.py"
    instance.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        if new:
            f.write(
                "# Local settings of this installation; never commit this file.\n"
                "# DATABASE_URL = 'postgresql+psycopg://user@host/dbname'\n"
            )
        f.write(f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n")
    return path
