"""The fail-over drill (tests/failover/drill.py), run once: a primary with a
synchronous standby, the portal under load through its API, the primary's
postmaster killed with SIGKILL mid-load, the standby promoted. Nothing the
portal acknowledged may be lost, the log must verify on the new primary and
contain every checkpoint served, and none may be served twice at one size."""

from __future__ import annotations

import os

import pytest

from tests.failover import drill

pytestmark = [pytest.mark.failover, pytest.mark.slow]


def postmasters_in(folder: str) -> list[int]:
    """Running processes whose command line names `folder` (a postmaster
    started by pg_ctl carries its data directory)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if folder.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_no_acknowledged_write_is_lost_when_the_primary_dies():
    if drill.pg_bin() is None:
        pytest.skip("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (a skip fails under CI=true)")
    report = drill.run(seconds=20, clients=4)

    application_name, state, sync_state = report.replication
    assert (application_name, state, sync_state) == (drill.STANDBY_NAME, "streaming", "sync")
    # The load wrote on both sides of the kill, and got through after it.
    assert report.acked_before > 0
    assert report.acked_after > 0
    assert report.acked_furnish > 0
    assert report.acked_reports > 0
    assert report.recover_s is not None
    assert report.unexpected == []
    assert report.abandoned == 0
    # The old primary is gone; the standby took its place.
    assert report.old_primary_refuses
    assert report.new_primary_writable
    # Every acknowledged record version and answered report's disclosure survived.
    assert report.missing == []
    assert report.unanswered_commits >= 0
    # Checkpoints were served from both servers; each is stored on the new
    # primary with the root served, and no size was served with two roots.
    assert report.checkpoints_served_before_kill > 0
    assert report.checkpoints_served > report.checkpoints_served_before_kill
    assert report.checkpoints_not_stored == []
    assert report.checkpoints_forked == []
    # The whole log verifies on the new primary and contains every checkpoint served.
    assert report.audit_exit == 0, report.audit_output
    assert report.audit_held == report.checkpoints_served
    assert report.passed
    # Both servers and the portal stopped, the folder removed.
    assert postmasters_in(report.folder) == []
    assert not os.path.exists(report.folder)
    assert not os.path.exists(f"/proc/{report.portal_pid}")
