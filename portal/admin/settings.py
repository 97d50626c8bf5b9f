"""The settings in force, for the console to show read-only with where each
came from. Secrets are never shown: only whether they are set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from portal.config import DEFAULTS, SOURCES

SECRETS = frozenset({"SECRET_KEY", "MAIL_PASSWORD", "METRICS_TOKEN"})
# Read on every use (each request, each worker round): a change takes effect
# when the processes restart with it, without any migration or re-keying.
# The rest shape stored data (deadline regime, time zone, the log's name)
# or the keys and database themselves.
RESTART_ONLY = frozenset({"DATABASE_URL", "KEY_DIR", "SECRET_KEY", "LOG_ORIGIN", "TIMEZONE", "DISPUTE_REGIME"})


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    source: str  # default, instance, environment, application
    secret: bool  # then value is empty and is_set says whether it has one
    is_set: bool
    safe_to_change: bool


def _shown(name: str, value: Any) -> str:
    if name == "DATABASE_URL" and value:
        return make_url(str(value)).render_as_string(hide_password=True)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def settings(config: Any) -> list[Setting]:
    sources = config.get(SOURCES, {})
    return [
        Setting(
            name=name,
            value="" if name in SECRETS else _shown(name, config.get(name)),
            source=sources.get(name, "default"),
            secret=name in SECRETS,
            is_set=config.get(name) not in (None, ""),
            safe_to_change=name not in RESTART_ONLY,
        )
        for name in sorted(DEFAULTS)
    ]
