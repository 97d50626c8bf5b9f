"""The supervisors' view: cases and overdue cases per officer, reassignment in bulk, each officer's actions as a log."""

from __future__ import annotations

from portal.compliance.console import console_blueprint

bp = console_blueprint("supervision", __name__)
