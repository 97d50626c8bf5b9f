"""The witness's one promise under crashes: whatever the timing of
concurrent requests and wherever a kill -9 lands, it never cosigns two
checkpoints of one log that fork, and never forgets one it released."""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections import Counter

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.transparency.cosign import Witness, cosignatures
from portal.transparency.notes import Signer, verify_note

from .conftest import WITNESS_NAME, Log, leaves, portal, request, start_witness

ORIGIN = "log.test/crash"
LEAVES = 5000
KILLS = 5
SIZE_TYPE = "text/x.tlog.size"


@pytest.mark.slow
def test_kill_9_never_lets_two_forks_be_cosigned(tmp_path):
    running = start_witness(tmp_path / "w")
    server = running.server
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    portal("witness", "add-log", "--dir", running.folder, signer.vkey)
    forks = {tag: Log(ORIGIN, leaves(tag, LEAVES), signer) for tag in "ab"}

    lock, stop = threading.Lock(), threading.Event()
    cosigned: list[tuple[str, int, str]] = []  # (fork, size, note with the cosignature)
    seen = Counter[str]()
    rollbacks: list[str] = []
    unexpected: list[str] = []

    def client(tag: str, seed: int) -> None:
        """Grow one fork; send old = what the last 409 said, with this fork's proof."""
        rng, log = random.Random(seed), forks[tag]
        old = size = 0
        while not stop.is_set():
            # Never size 0: the empty tree belongs to both forks.
            size = min(LEAVES, max(size, old) + rng.randint(0 if old else 1, 3))
            with lock:
                released = max((s for _t, s, _n in cosigned), default=0)
            try:
                answer = request(server.port, "POST", "/add-checkpoint", log.body(old, size), timeout=5)
            except (OSError, http.client.HTTPException):  # killed (mid-answer, too), or restarting
                with lock:
                    seen["no answer"] += 1
                time.sleep(0.01)
                continue
            with lock:
                seen[f"{tag} {answer.status}"] += 1
                if answer.status == 200:
                    cosigned.append((tag, size, log.note(size) + answer.text))
                    old = size
                elif answer.status == 409 and answer.content_type == SIZE_TYPE:
                    old = int(answer.text)
                    if old < released:
                        rollbacks.append(f"the witness said {old} after cosigning size {released}")
                elif answer.status not in (409, 422):  # 409, 422: the other fork holds the witness
                    unexpected.append(f"{answer.status} {answer.text}")

    clients = [threading.Thread(target=client, args=(tag, i)) for i, tag in enumerate("abab")]
    for t in clients:
        t.start()
    rng = random.Random()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.6))
            server.kill()
            server.start()  # same folder, same port
        time.sleep(0.5)
    finally:
        stop.set()
        for t in clients:
            t.join()

    try:
        final = request(server.port, "GET", f"/checkpoint?origin={ORIGIN}")
    finally:
        server.kill()
    # The test did what it says: traffic on both forks, cut by the kills.
    assert seen["no answer"] > 0, seen
    assert len(cosigned) >= 20, seen
    assert seen["a 200"] + seen["b 200"] == len(cosigned)

    witness = Witness.parse(running.vkey)
    for _tag, _size, note in cosigned:
        assert WITNESS_NAME in cosignatures(note, [witness])
    assert len({tag for tag, _s, _n in cosigned}) == 1, seen
    by_size = sorted((size, forks[tag].root(size), tag) for tag, size, _n in cosigned)
    for i, (small, small_root, _) in enumerate(by_size):
        for _big, _root, tag in by_size[i + 1 :]:
            assert forks[tag].root(small) == small_root
    assert not rollbacks
    assert not unexpected

    # What a monitor reads: the winning fork, never behind what was released.
    winner = forks[by_size[0][2]]
    _origin, size, root = verify_note(final.text, signer.vkey)
    assert size >= by_size[-1][0]
    assert root == winner.root(size)
    assert WITNESS_NAME in cosignatures(final.text, [witness])
