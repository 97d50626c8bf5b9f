"""The drill runs once per suite run: in its PostgreSQL pass (CI runs the
suite on SQLite, then on PostgreSQL). It does not use that database; it
makes servers of its own."""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("PORTAL_TEST_DATABASE_URL", "").startswith("postgresql") else ["test_drill.py"]
