"""Two OS processes appending at once, on the suite's database (SQLite by
default, PostgreSQL with PORTAL_TEST_DATABASE_URL): no fork, no gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.extensions import session
from portal.transparency import merkle
from portal.transparency.models import LogHead, LogLeaf

pytestmark = pytest.mark.committing  # other processes append to the database

PER_PROCESS = 200
SCRIPT = Path(__file__).with_name("appender.py")


def test_two_processes_append_without_fork_or_gap(log_app, database_url):
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), database_url, tag, str(PER_PROCESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("A", "B")
    ]
    try:
        for p in procs:  # both connected and waiting, then both go at once
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outputs, strict=False):
        assert p.returncode == 0, err
    got = {tag: json.loads(out.strip().splitlines()[-1]) for tag, (out, _err) in zip("AB", outputs, strict=False)}

    indices = got["A"] + got["B"]
    assert sorted(indices) == list(range(2 * PER_PROCESS))  # every index once: no gap, no duplicate
    assert got["A"] == sorted(got["A"])
    assert got["B"] == sorted(got["B"])
    with log_app.app_context():
        s = session()
        assert s.scalar(select(LogHead.size)) == 2 * PER_PROCESS
        stored = dict(s.execute(select(LogLeaf.index, LogLeaf.leaf_hash)).all())
    # Each index holds the leaf of the process that was given it.
    for tag, mine in got.items():
        for i, index in enumerate(mine):
            assert stored[index] == merkle.leaf_hash(f"{tag} {i}".encode())

    result = log_app.test_cli_runner().invoke(args=["audit", "verify", "--log-only"])
    assert result.exit_code == 0, result.output
    assert f"log verified: {2 * PER_PROCESS} leaves" in result.output
