"""The alert queue of the access monitoring and an alert's triage: acknowledge,
escalate to a supervisor, close with a reason."""

from __future__ import annotations

from portal.compliance.console import console_blueprint

bp = console_blueprint("alerts", __name__)
