"""Institution oversight: an institution's queries, refusals, authorities,
disputes and notices; supervisors suspend its querying."""

from __future__ import annotations

from portal.compliance.console import console_blueprint

bp = console_blueprint("oversight", __name__)
