"""The queue and the integrator: leaves are queued by any number of
writers and sequenced by integrators, one at a time, each exactly once;
an integrator killed mid-batch loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import session
from portal.transparency import log, merkle
from portal.transparency.checkpoints import verify_log
from portal.transparency.models import Checkpoint, LogLeaf, LogQueue
from portal.transparency.notes import Signer

pytestmark = pytest.mark.committing  # other processes integrate on the database

SCRIPT = Path(__file__).with_name("integrator.py")


def queue(app, count: int) -> dict[str, bytes]:
    """Queue `count` leaves (committed); returns their data by ref."""
    made = {}
    with app.app_context():
        s = session()
        for i in range(count):
            ref = uuid.uuid4()
            made[str(ref)] = f"queued leaf {i}".encode()
            log.enqueue(s, ref, made[str(ref)])
        s.commit()
    return made


def start(database_url, key_dir, limit, *extra):
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), database_url, str(key_dir), str(limit), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def go(*procs):
    for p in procs:  # all connected and waiting, then all at once
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()


def assert_log_holds(app, made: dict[str, bytes], placed: dict[str, int]) -> None:
    """Every queued leaf at exactly one index, 0..n-1, with its own hash;
    the queue empty; the tree, subtrees and checkpoints verify."""
    assert set(placed) == set(made)
    assert sorted(placed.values()) == list(range(len(made)))
    with app.app_context():
        s = session()
        stored = dict(s.execute(select(LogLeaf.index, LogLeaf.leaf_hash)).all())
        assert len(stored) == len(made)
        for ref, index in placed.items():
            assert stored[index] == merkle.leaf_hash(made[ref]), index
        assert s.scalar(select(func.count()).select_from(LogQueue)) == 0
        assert log.size(s) == len(made)
        in_order = [made[ref] for ref, _ in sorted(placed.items(), key=lambda kv: kv[1])]
        assert log.root(s, len(made)) == merkle.root(in_order)
        report = verify_log(s, Signer.load(app.config["KEY_DIR"]).vkey)
        assert report.size == len(made)
        assert report.checkpoints >= 1
        assert s.scalar(select(func.max(Checkpoint.size))) == len(made)


def test_two_integrators_at_once_place_each_leaf_once(log_app, database_url):
    made = queue(log_app, 300)
    procs = [start(database_url, log_app.config["KEY_DIR"], 7) for _ in range(2)]
    try:
        go(*procs)
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    placed: dict[str, int] = {}
    for out, _err in outputs:
        for ref, index in json.loads(out.strip().splitlines()[-1]):
            assert ref not in placed, "a leaf integrated twice"
            placed[ref] = index
    assert_log_holds(log_app, made, placed)


def test_an_integrator_killed_mid_batch_loses_and_repeats_nothing(log_app, database_url):
    made = queue(log_app, 50)
    victim = start(database_url, log_app.config["KEY_DIR"], 20, "hang")
    try:
        go(victim)
        assert victim.stdout.readline().strip() == "appended", victim.stderr.read()
        victim.send_signal(signal.SIGKILL)  # between appending and committing
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    with log_app.app_context():  # nothing of its batch is in the log; all still queued
        s = session()
        assert log.size(s) == 0
        assert s.scalar(select(func.count()).select_from(LogQueue)) == 50
    survivor = start(database_url, log_app.config["KEY_DIR"], 20)
    go(survivor)
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    placed = dict(json.loads(out.strip().splitlines()[-1]))
    assert_log_holds(log_app, made, placed)


def test_leaves_are_taken_in_queue_order_and_an_empty_queue_writes_nothing(log_app):
    made = queue(log_app, 5)
    with log_app.app_context():
        s = session()
        first = log.integrate(s, 3)
        s.commit()
        assert [index for _ref, index in first] == [0, 1, 2]
        assert [str(ref) for ref, _ in first] == list(made)[:3]
        rest = log.integrate(s, 10)
        s.commit()
        assert [index for _ref, index in rest] == [3, 4]
        assert log.integrate(s, 10) == []
        assert log.size(s) == 5
