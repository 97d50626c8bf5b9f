"""Statistics: how the registry does against its promises (disputes, deadlines,
furnishers, notices), by period, as charts, tables and CSV."""

from __future__ import annotations

from portal.compliance.console import console_blueprint

bp = console_blueprint("statistics", __name__)
