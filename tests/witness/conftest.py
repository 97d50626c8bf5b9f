"""A witness served by `portal witness serve` in a process of its own, and
logs (in-memory Merkle trees with their own Ed25519 keys) that submit
checkpoints to it over real HTTP."""

from __future__ import annotations

import base64
import http.client
import os
import select
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.transparency.merkle import MemoryTree, build_levels, leaf_hash
from portal.transparency.notes import Signer
from portal.witness.state import Store

PORTAL = [sys.executable, "-m", "portal"]
WITNESS_NAME = "witness.test/w1"


def portal(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*PORTAL, *map(str, args)], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


class Server:
    """`portal witness serve` on a folder; restartable on the same port."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder, self.port = folder, port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        log = (self.folder.parent / "serve.log").open("a")
        self.proc = subprocess.Popen(
            [*PORTAL, "witness", "serve", "--dir", str(self.folder), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, "the witness did not start listening in 30 s"
        line = self.proc.stdout.readline()  # printed once the socket listens
        assert "witness listening on http://127.0.0.1:" in line, line
        self.port = int(line.rsplit(":", 1)[1].strip("/\n"))

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            self.proc = None


@dataclass
class Answer:
    status: int
    content_type: str
    cache_control: str
    text: str


def request(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 10) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        text = response.read().decode()
        return Answer(
            response.status, response.getheader("Content-Type", ""), response.getheader("Cache-Control", ""), text
        )
    finally:
        conn.close()


class Log:
    """A log of `count` leaves under `origin`, signing with a key of its own."""

    def __init__(self, origin: str, leaves: list[bytes], signer: Signer | None = None) -> None:
        self.origin = origin
        self.signer = signer or Signer(origin, Ed25519PrivateKey.generate())
        self.tree = MemoryTree(build_levels(b"".join(leaf_hash(d) for d in leaves)))

    @property
    def vkey(self) -> str:
        return self.signer.vkey

    def root(self, size: int) -> bytes:
        return self.tree.root(size)

    def note(self, size: int) -> str:
        return self.signer.sign_checkpoint(self.origin, size, self.root(size))

    def proof(self, old: int, size: int) -> list[bytes]:
        return [] if old in (0, size) else self.tree.consistency_proof(old, size)

    def body(self, old: int, size: int, proof: list[bytes] | None = None, note: str | None = None) -> bytes:
        return submission(old, self.proof(old, size) if proof is None else proof, note or self.note(size))


def submission(old: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def leaves(tag: str, count: int) -> list[bytes]:
    return [f"{tag} {i}".encode() for i in range(count)]


@dataclass
class Running:
    folder: Path
    vkey: str
    server: Server

    @property
    def port(self) -> int:
        return self.server.port

    def post(self, body: bytes) -> Answer:
        return request(self.port, "POST", "/add-checkpoint", body)

    def get(self, path: str) -> Answer:
        return request(self.port, "GET", path)

    def trust(self, vkey: str) -> None:
        # The storage `portal witness add-log` writes to (a process per log would be slow).
        Store.open(self.folder).add_log_key(vkey)

    def new_log(self, count: int = 32, tag: str = "a", origin: str | None = None) -> Log:
        log = Log(origin or f"log.test/{uuid.uuid4().hex[:12]}", leaves(tag, count))
        self.trust(log.vkey)
        return log


def start_witness(folder: Path) -> Running:
    vkey = portal("witness", "init", "--dir", folder, "--name", WITNESS_NAME).stdout.strip()
    server = Server(folder)
    server.start()
    return Running(folder, vkey, server)


@pytest.fixture(scope="module")
def witness(tmp_path_factory):
    running = start_witness(tmp_path_factory.mktemp("witness") / "w")
    yield running
    running.server.kill()


@pytest.fixture
def broken_portal_config(monkeypatch, tmp_path):
    """A portal configuration the portal's app refuses to load with: the
    witness must not need it."""
    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "no-portal-here"))
    monkeypatch.setenv("PORTAL_TIMEZONE", "Not/A_Zone")
