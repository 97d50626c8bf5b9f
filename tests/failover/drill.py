"""The PostgreSQL fail-over drill: does the portal's data survive losing the
primary? Run by hand or from tests/failover/test_drill.py:

    python tests/failover/drill.py [--seconds 30] [--clients 4] [--workers 1]

It makes a PostgreSQL primary and a streaming standby of its own in a
temporary folder (Debian's binaries, as the `postgres` user when run as
root; free ports; the standby is synchronous: `synchronous_standby_names`
names it, and the load waits until `pg_stat_replication` says so), builds a
demo instance on the primary and serves it with `portal serve`, its database
URL naming both servers with `target_session_attrs=read-write`. A few clients
furnish records and query reports through the institution API, retrying what
fails (furnishing with the same Idempotency-Key), and keep every write the
portal acknowledged. A third of the way in, the primary's postmaster gets
SIGKILL and the standby is promoted; the running portal finds it by itself.

Afterwards, on the new primary: every acknowledged record version and every
answered report's disclosure must be there, every checkpoint the portal
served must be stored with the same root (and no size was served with two
roots), and `portal audit verify --against <each served checkpoint>` must
pass. It prints the time to recover (SIGKILL to the first acknowledged write
sent after it) and the counts. Whatever happens, both servers are stopped and
the folder removed; a reaper process does it if this process dies first.
Nothing here touches the machine's own PostgreSQL.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import http.client
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script: the load benchmark's helpers live under tests/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg

from tests.benchmarks.load import HOST, PORTAL, Client, free_port, furnish_body

STANDBY_NAME = "drill_standby"  # its application_name, which synchronous_standby_names names
DATABASE = "portal"
MAIN_PORT = 5432  # the machine's own PostgreSQL: never ours
RETRY_PAUSE = 0.2  # seconds between a client's retries
GRACE = 20.0  # seconds a request begun before the end may keep retrying
KILL_AT = 0.35  # of the load's duration
HELD_LINE = "consistent with the signed checkpoint of"  # `portal audit verify --against`, per checkpoint held


def pg_bin() -> Path | None:
    """The newest Debian PostgreSQL binaries, if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def our_port() -> int:
    while (port := free_port()) == MAIN_PORT:
        pass
    return port


# -- the reaper: cleans up after a drill process that died --------------------
def reap() -> None:
    """Read what the drill started from stdin, one "<kind> <value>" per line
    ("pg <data dir>", "group <pgid>", "drop group <pgid>", "rm <folder>"), and
    when stdin closes (the drill finished or died) stop and remove whatever
    is left. A drill that finished cleaned up itself: nothing is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data_dirs: list[str] = []
    groups: set[int] = set()
    folders: list[str] = []
    for line in sys.stdin:
        kind, _, value = line.strip().partition(" ")
        if kind == "pg":
            data_dirs.append(value)
        elif kind == "group":
            groups.add(int(value))
        elif kind == "drop" and value.startswith("group "):
            groups.discard(int(value.split()[1]))
        elif kind == "rm":
            folders.append(value)
    for pgid in groups:
        stop_group(pgid)
    bin_dir = pg_bin()
    for data in data_dirs:
        if bin_dir is not None and postmaster_pid(Path(data)) is not None:
            as_postgres(bin_dir / "pg_ctl", "-D", data, "stop", "-m", "immediate", check=False)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def stop_group(pgid: int, leader: subprocess.Popen[bytes] | None = None, wait: float = 15.0) -> None:
    """SIGTERM a process group we started (the portal and its children), then
    SIGKILL what is left after `wait` seconds. `leader`, our child, is reaped
    as it exits (a zombie still counts as a member of its group)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    until = time.monotonic() + wait
    while time.monotonic() < until:
        if leader is not None:
            leader.poll()
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# -- the servers ---------------------------------------------------------------
def as_postgres(*args: str | Path, check: bool = True) -> str:
    """Run a PostgreSQL program as the `postgres` user when we are root
    (PostgreSQL refuses to run as root), as ourselves otherwise."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, cwd="/")
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def postmaster_pid(data: Path) -> int | None:
    """The live postmaster of a data directory, if any: the pid in its
    postmaster.pid, if that process is a postgres started on this directory
    (after a SIGKILL the file stays, and its pid may be reused)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if cmdline[0].endswith(b"postgres") and str(data).encode() in cmdline else None


def started(pid: int) -> int | None:
    """When a process started (clock ticks since boot): with its pid, names
    it even after the pid is reused."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def children_of(pid: int) -> list[tuple[int, int]]:
    """(pid, start) of the processes whose parent is `pid` (a postmaster's
    backends and helpers)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append((int(stat.parent.name), int(fields[19])))
    return out


def alive(processes: list[tuple[int, int]]) -> list[int]:
    return [pid for pid, start in processes if started(pid) == start]


class Servers:
    """A primary and a synchronous streaming standby in `root`/pg."""

    def __init__(self, root: Path, bin_dir: Path, reaper: IO[str]) -> None:
        self.bin, self.reaper = bin_dir, reaper
        self.dir = root / "pg"
        self.dir.mkdir()
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.dir, postgres.pw_uid, postgres.pw_gid)
        self.primary, self.standby = self.dir / "primary", self.dir / "standby"
        self.primary_port, self.standby_port = our_port(), our_port()
        while self.standby_port == self.primary_port:
            self.standby_port = our_port()

    def tell_reaper(self, line: str) -> None:
        self.reaper.write(line + "\n")
        self.reaper.flush()

    def conf(self, data: Path, file: str, **settings: str | int) -> None:
        lines = [f"{k} = '{v}'" if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()]
        with (data / file).open("a") as f:
            f.write("\n# fail-over drill\n" + "\n".join(lines) + "\n")

    def start(self, data: Path) -> None:
        self.tell_reaper(f"pg {data}")
        as_postgres(self.bin / "pg_ctl", "-D", data, "-l", f"{data}.log", "-w", "-t", "60", "start")

    def build(self) -> None:
        as_postgres(
            self.bin / "initdb", "-D", self.primary, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        self.conf(
            self.primary,
            "postgresql.conf",
            listen_addresses=HOST,
            port=self.primary_port,
            unix_socket_directories=str(self.dir),
            wal_level="replica",
            max_wal_senders=4,
            max_connections=60,
            shared_buffers="32MB",
            # Commits wait until the standby has the WAL on disk.
            synchronous_standby_names=STANDBY_NAME,
            synchronous_commit="on",
        )
        self.start(self.primary)
        as_postgres(
            self.bin / "pg_basebackup", "-D", self.standby, "-R", "-X", "stream", "-c", "fast",
            "-d", f"host={HOST} port={self.primary_port} user=postgres application_name={STANDBY_NAME}",
        )  # fmt: skip
        # After -R's primary_conninfo, so these win over what was copied: the
        # standby's own port and name, and no synchronous standby of its own
        # (once promoted it runs alone; naming one would stall every commit).
        self.conf(
            self.standby,
            "postgresql.auto.conf",
            port=self.standby_port,
            cluster_name=STANDBY_NAME,
            synchronous_standby_names="",
        )
        self.start(self.standby)

    def connect(self, port: int, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(host=HOST, port=port, user="postgres", dbname=dbname, autocommit=True, connect_timeout=5)

    def replication(self) -> tuple[str, str, str]:
        """(application_name, state, sync_state) of the standby, as the
        primary sees it, once it streams synchronously (or after 30 s)."""
        row: Any = None
        until = time.monotonic() + 30
        with self.connect(self.primary_port) as c:
            while time.monotonic() < until:
                row = c.execute("SELECT application_name, state, sync_state FROM pg_stat_replication").fetchone()
                if row and row[1] == "streaming" and row[2] == "sync":
                    break
                time.sleep(0.1)
        return (row[0], row[1], row[2]) if row else ("", "none", "none")

    def kill_primary(self) -> tuple[float, int, float]:
        """SIGKILL the primary's postmaster. Returns the moment, how many
        other processes it had, and how long they took to go (a backend
        notices its postmaster's death; what is left after 10 s is killed)."""
        pid = postmaster_pid(self.primary)
        if pid is None:
            raise RuntimeError("the primary is not running")
        children = children_of(pid)
        at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        while alive(children) and time.monotonic() < at + 10:
            time.sleep(0.02)
        gone = time.monotonic() - at
        for orphan in alive(children):
            os.kill(orphan, signal.SIGKILL)
        return at, len(children), gone

    def promote(self) -> None:
        as_postgres(self.bin / "pg_ctl", "-D", self.standby, "-w", "-t", "60", "promote")

    def stop(self) -> None:
        for data in (self.primary, self.standby):
            if postmaster_pid(data) is not None:
                as_postgres(self.bin / "pg_ctl", "-D", data, "stop", "-m", "immediate", check=False)


# -- the load ------------------------------------------------------------------
@dataclass
class Ack:
    kind: str  # "furnish" (201) or "report" (200)
    sent: float  # when its first attempt was sent (monotonic)
    at: float  # when the answer came
    key: str  # record_id/version, or the disclosure's SHA-256
    replayed: bool = False  # furnish: answered from the Idempotency-Key's stored answer


@dataclass
class Load:
    acks: list[Ack] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (when, what): each retried
    unexpected: list[str] = field(default_factory=list)  # answers that are neither success nor retryable
    abandoned: int = 0  # requests still failing GRACE seconds after the end
    checkpoints: list[tuple[float, str]] = field(default_factory=list)  # (when, note) as served
    lock: threading.Lock = field(default_factory=threading.Lock)


class Drill:
    def __init__(self, port: int, furnish_key: str, query_key: str, identifier: str) -> None:
        self.port, self.furnish_key, self.query_key, self.identifier = port, furnish_key, query_key, identifier
        self.load = Load()
        self.end = 0.0

    def request(self, client: Client, kind: str, method: str, path: str, body: bytes | None, headers: dict) -> None:
        """Send until answered with success (retrying on errors, 5xx and
        dropped connections), or until GRACE seconds after the end."""
        sent = time.monotonic()
        while True:
            try:
                status, answer_headers, answer = client.request(method, path, body, headers)
                what = str(status)
            except (OSError, http.client.HTTPException) as exc:
                status, answer_headers, answer, what = 0, [], b"", type(exc).__name__
            now = time.monotonic()
            if (kind, status) in (("furnish", 201), ("report", 200)):
                found = {k.lower(): v for k, v in answer_headers}
                if kind == "furnish":
                    data = json.loads(answer)
                    key = f"{data['record_id']}/{data['version']}"
                else:
                    key = found["disclosure-sha256"]
                with self.load.lock:
                    self.load.acks.append(Ack(kind, sent, now, key, found.get("idempotent-replayed") == "true"))
                return
            if status and status < 500 and status != 429:
                with self.load.lock:
                    self.load.unexpected.append(f"{kind} {status}: {answer[:200]!r}")
                return
            with self.load.lock:
                self.load.failures.append((now, f"{kind} {what}"))
            if now > self.end + GRACE:
                with self.load.lock:
                    self.load.abandoned += 1
                return
            time.sleep(RETRY_PAUSE)

    def client(self, n: int) -> None:
        rng = random.Random(n)
        client = Client(self.port)
        while time.monotonic() < self.end:
            if rng.random() < 0.75:
                headers = {
                    "Authorization": f"Bearer {self.furnish_key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": str(uuid.uuid4()),  # the same on every retry
                }
                body = json.dumps(furnish_body(rng)).encode()
                self.request(client, "furnish", "POST", "/api/v1/records", body, headers)
            else:
                path = f"/api/v1/reports/{self.identifier}?purpose=loan_approval&kind=person"
                self.request(client, "report", "GET", path, None, {"Authorization": f"Bearer {self.query_key}"})

    def watch_checkpoints(self) -> None:
        """Keep the checkpoints served (the endpoint allows 60 a minute)."""
        client = Client(self.port)
        while time.monotonic() < self.end:
            self.fetch_checkpoint(client)
            time.sleep(1.5)

    def fetch_checkpoint(self, client: Client) -> None:
        try:
            status, _, body = client.request("GET", "/transparency/checkpoint")
        except (OSError, http.client.HTTPException):
            return
        if status == 200:
            with self.load.lock:
                self.load.checkpoints.append((time.monotonic(), body.decode()))


def parse_note(note: str) -> tuple[int, bytes]:
    """(size, root) of a C2SP checkpoint note."""
    lines = note.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


# -- the drill -----------------------------------------------------------------
@dataclass
class Report:
    replication: tuple[str, str, str] = ("", "", "")
    killed_children: int = 0
    children_gone_s: float = 0.0
    promote_s: float = 0.0  # SIGKILL to the standby promoted
    recover_s: float | None = None  # SIGKILL to the first acknowledged write sent after it
    acked_before: int = 0
    acked_after: int = 0
    acked_furnish: int = 0
    acked_reports: int = 0
    replayed: int = 0
    failed_before: int = 0
    failed_outage: int = 0
    failed_after: int = 0
    abandoned: int = 0
    unexpected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # acknowledged, not on the new primary
    unanswered_commits: int = 0  # records on the new primary whose answer never reached a client
    checkpoints_served: int = 0
    checkpoints_served_before_kill: int = 0
    checkpoint_sizes: tuple[int, int] = (0, 0)
    checkpoints_not_stored: list[str] = field(default_factory=list)
    checkpoints_forked: list[str] = field(default_factory=list)
    old_primary_refuses: bool = False
    new_primary_writable: bool = False
    audit_exit: int = -1
    audit_output: str = ""
    audit_held: int = 0  # served checkpoints `portal audit verify --against` found the log consistent with
    folder: str = ""  # the temporary folder, removed at the end
    portal_pid: int = 0  # `portal serve`, stopped at the end
    lines: list[str] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)

    @property
    def passed(self) -> bool:
        return (
            self.replication[2] == "sync"
            and self.acked_before > 0
            and self.acked_after > 0
            and self.recover_s is not None
            and not self.unexpected
            and not self.missing
            and self.checkpoints_served_before_kill > 0
            and not self.checkpoints_not_stored
            and not self.checkpoints_forked
            and self.old_primary_refuses
            and self.new_primary_writable
            and self.audit_exit == 0
            and self.audit_held == self.checkpoints_served
        )

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(f"[{time.monotonic() - self.began:5.1f} s] {line}", flush=True)


def portal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True, cwd="/")


def run(seconds: float = 30, clients: int = 4, workers: int = 1) -> Report:
    """Run the drill; returns what it found (and prints it as it goes)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="portal-failover-"))
    os.chmod(root, 0o711)  # noqa: S103 - the postgres user passes through to its folder, lists nothing
    reaper = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--reap"],
        stdin=subprocess.PIPE,
        text=True,
        start_new_session=True,  # outlives a Ctrl-C or a kill of this process group
    )
    assert reaper.stdin is not None
    reaper.stdin.write(f"rm {root}\n")
    reaper.stdin.flush()
    report = Report(folder=str(root))
    server: subprocess.Popen[bytes] | None = None
    drill: Drill | None = None
    servers = Servers(root, bin_dir, reaper.stdin)
    try:
        servers.build()
        report.replication = servers.replication()
        report.say(
            f"servers: PostgreSQL {bin_dir.parts[-2]} primary on :{servers.primary_port}, standby on "
            f":{servers.standby_port}; pg_stat_replication: application_name={report.replication[0]} "
            f"state={report.replication[1]} sync_state={report.replication[2]}"
        )
        if report.replication[2] != "sync":
            raise RuntimeError("the standby is not synchronous")
        with servers.connect(servers.primary_port) as c:
            c.execute(f"CREATE DATABASE {DATABASE}")

        # Both servers in the URL: libpq tries them in turn and takes the one
        # that accepts writes, so after the promotion new connections find it.
        both = f"host={HOST}:{servers.primary_port}&host={HOST}:{servers.standby_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env.update(
            PORTAL_INSTANCE_PATH=str(root / "instance"),
            PORTAL_DATABASE_URL=f"postgresql+psycopg://postgres@/{DATABASE}?{both}"
            "&target_session_attrs=read-write&connect_timeout=3",
            PORTAL_SECRET_KEY=secrets.token_urlsafe(32),
            PORTAL_API_RATE_LIMIT="1000000 per minute",  # the load is the point, not the limit
            PORTAL_SWEEP_MINUTES="0",
        )
        started = time.monotonic()
        done = portal(env, "demo", "--subjects", "20")
        if done.returncode != 0:
            raise RuntimeError(f"portal demo failed:\n{done.stdout}{done.stderr}")
        creds = json.loads((root / "instance" / "demo-credentials.json").read_text(encoding="utf-8"))
        person = next(x for x in creds["logins"] if x["role"] == "person" and x.get("subject_identifier"))
        bank = next(i for i in creds["institutions"] if i["code"] == "hengtong-bank")
        query_key = next(k["token"] for k in bank["api_keys"] if "query" in k["scopes"])
        furnish_key = next(k["token"] for k in bank["api_keys"] if "furnish" in k["scopes"])
        with servers.connect(servers.primary_port, DATABASE) as c:
            versions_before = c.execute("SELECT count(*) FROM record_versions").fetchone()[0]  # type: ignore[index]
        report.say(f"portal demo on the primary: {time.monotonic() - started:.1f} s")

        port = our_port()
        server = subprocess.Popen(
            [PORTAL, "serve", "--port", str(port), "--threads", "8"]
            + (["--workers", str(workers)] if workers > 1 else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(root / "serve.log").open("w"),  # a pipe nobody reads would stall the server
            start_new_session=True,  # its own process group: gunicorn's children go with it
            cwd="/",
        )
        servers.tell_reaper(f"group {server.pid}")
        report.portal_pid = server.pid
        for _ in range(300):
            try:
                if Client(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the portal did not start")

        drill = Drill(port, furnish_key, query_key, person["subject_identifier"])
        report.say(
            f"load: {clients} clients for {seconds:.0f} s against portal serve on :{port} ({workers} process(es)); "
            f"the primary is killed at {seconds * KILL_AT:.0f} s"
        )
        began = time.monotonic()
        drill.end = began + seconds
        threads = [threading.Thread(target=drill.client, args=(n,), daemon=True) for n in range(clients)]
        threads.append(threading.Thread(target=drill.watch_checkpoints, daemon=True))
        for t in threads:
            t.start()
        time.sleep(seconds * KILL_AT)
        killed_at, report.killed_children, report.children_gone_s = servers.kill_primary()
        servers.promote()
        report.promote_s = time.monotonic() - killed_at
        report.say(
            f"SIGKILL to the primary's postmaster: its {report.killed_children} other processes gone after "
            f"{report.children_gone_s:.2f} s; standby promoted {report.promote_s:.2f} s after the kill"
        )
        for t in threads:
            t.join(timeout=seconds + GRACE + 60)

        # Let the integrator sequence what is queued, then take the newest
        # checkpoint, served from the new primary.
        with servers.connect(servers.standby_port, DATABASE) as c:
            for _ in range(150):
                if not c.execute("SELECT count(*) FROM log_queue").fetchone()[0]:  # type: ignore[index]
                    break
                time.sleep(0.1)
        drill.fetch_checkpoint(Client(port))
        report.say("load done")
        stop_group(server.pid, server)
        server.wait(timeout=30)
        servers.tell_reaper(f"drop group {server.pid}")
        server = None
        report.say("portal stopped")

        load = drill.load
        report.unexpected, report.abandoned = load.unexpected, load.abandoned
        after = [a for a in load.acks if a.kind == "furnish" and a.sent > killed_at]
        recovered_at = min((a.at for a in after), default=None)
        if recovered_at is not None:
            report.recover_s = recovered_at - killed_at
        report.acked_before = sum(a.at < killed_at for a in load.acks)
        report.acked_after = len(load.acks) - report.acked_before
        report.acked_furnish = sum(a.kind == "furnish" for a in load.acks)
        report.acked_reports = len(load.acks) - report.acked_furnish
        report.replayed = sum(a.replayed for a in load.acks)
        end_of_outage = recovered_at if recovered_at is not None else float("inf")
        report.failed_before = sum(t < killed_at for t, _ in load.failures)
        report.failed_outage = sum(killed_at <= t < end_of_outage for t, _ in load.failures)
        report.failed_after = sum(t >= end_of_outage for t, _ in load.failures)

        # The old primary is gone; the standby is the primary now.
        try:
            servers.connect(servers.primary_port).close()
        except psycopg.OperationalError:
            report.old_primary_refuses = True
        with servers.connect(servers.standby_port, DATABASE) as c:
            report.new_primary_writable = not c.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # type: ignore[index]
            furnished = [a.key for a in load.acks if a.kind == "furnish"]
            ids = [uuid.UUID(k.split("/")[0]) for k in furnished]
            rows = c.execute(
                "SELECT record_id, version FROM record_versions WHERE record_id = ANY(%s)", [ids]
            ).fetchall()
            stored = {f"{r}/{v}" for r, v in rows}
            hashes = [bytes.fromhex(a.key) for a in load.acks if a.kind == "report"]
            rows = c.execute("SELECT snapshot_hash FROM disclosures WHERE snapshot_hash = ANY(%s)", [hashes]).fetchall()
            disclosed = {bytes(h).hex() for (h,) in rows}
            report.missing = [f"record {k}" for k in furnished if k not in stored] + [
                f"disclosure {a.key}" for a in load.acks if a.kind == "report" and a.key not in disclosed
            ]
            versions_after = c.execute("SELECT count(*) FROM record_versions").fetchone()[0]  # type: ignore[index]
            report.unanswered_commits = versions_after - versions_before - len(set(furnished))
            checkpoints = {int(s): bytes(r) for s, r in c.execute("SELECT size, root FROM checkpoints").fetchall()}

        # Checkpoints: each one served must be stored with the same root, and
        # no size may have been served with two roots (a fork, which any
        # witness or client holding both could prove).
        served: dict[int, set[bytes]] = {}
        notes: dict[str, float] = {}
        for at, note in load.checkpoints:
            size, root_hash = parse_note(note)
            served.setdefault(size, set()).add(root_hash)
            notes.setdefault(note, at)
        report.checkpoints_served = len(notes)
        report.checkpoints_served_before_kill = sum(at < killed_at for at in notes.values())
        if served:
            report.checkpoint_sizes = (min(served), max(served))
        for size, roots in sorted(served.items()):
            if len(roots) > 1:
                report.checkpoints_forked.append(f"size {size}: {len(roots)} roots served")
            for root_hash in roots:
                if checkpoints.get(size) != root_hash:
                    report.checkpoints_not_stored.append(f"size {size} root {root_hash.hex()[:16]}")

        # The whole log on the new primary, and that it contains every
        # checkpoint served (held outside the database, as a client would).
        held = root / "served"
        held.mkdir()
        against = []
        for n, note in enumerate(notes):
            (held / f"{n}.txt").write_text(note, encoding="utf-8")
            against += ["--against", str(held / f"{n}.txt")]
        env["PORTAL_DATABASE_URL"] = f"postgresql+psycopg://postgres@{HOST}:{servers.standby_port}/{DATABASE}"
        verified = portal(env, "audit", "verify", *against)
        report.audit_exit = verified.returncode
        report.audit_output = (verified.stdout.strip() + "\n" + verified.stderr.strip()).strip()
        report.audit_held = sum(line.startswith(HELD_LINE) for line in report.audit_output.splitlines())
        describe(report)
        return report
    finally:
        if drill is not None:
            drill.end = float("-inf")  # clients still retrying (after an error here) give up
        if server is not None:
            stop_group(server.pid, server)
        servers.stop()
        shutil.rmtree(root, ignore_errors=True)
        reaper.stdin.close()
        reaper.wait(timeout=60)


def describe(r: Report) -> None:
    recover = f"{r.recover_s:.2f} s" if r.recover_s is not None else "never"
    r.say(f"time to recover: {recover} (SIGKILL to the first acknowledged write sent after it)")
    r.say(
        f"acknowledged: {r.acked_before} before the kill, {r.acked_after} after "
        f"({r.acked_furnish} records furnished, 201; {r.acked_reports} reports answered, 200; "
        f"{r.replayed} furnished answers replayed from an Idempotency-Key after a retry)"
    )
    r.say(
        f"failed requests (each retried): {r.failed_before} before the kill, {r.failed_outage} during the outage, "
        f"{r.failed_after} after the recovery; {r.abandoned} given up; {len(r.unexpected)} unexpected answers"
        + (f": {r.unexpected[:3]}" if r.unexpected else "")
    )
    found = r.acked_furnish + r.acked_reports - len(r.missing)
    r.say(
        f"on the new primary: {found} of {r.acked_furnish + r.acked_reports} acknowledged writes found "
        f"(record id/version, disclosure SHA-256); {r.unanswered_commits} record(s) committed whose answer "
        "never reached a client" + (f"; MISSING: {r.missing[:5]}" if r.missing else "")
    )
    r.say(
        f"checkpoints: {r.checkpoints_served} served ({r.checkpoints_served_before_kill} before the kill; sizes "
        f"{r.checkpoint_sizes[0]}..{r.checkpoint_sizes[1]}); not stored on the new primary with the root served: "
        f"{len(r.checkpoints_not_stored)}; sizes served with two roots: {len(r.checkpoints_forked)}"
        + (f" {r.checkpoints_not_stored[:3]} {r.checkpoints_forked[:3]}" if not r.passed else "")
    )
    r.say(
        f"old primary refuses connections: {r.old_primary_refuses}; new primary accepts writes: "
        f"{r.new_primary_writable}"
    )
    r.say(f"portal audit verify --against <each served checkpoint> on the new primary: exit {r.audit_exit}")
    held = [line for line in r.audit_output.splitlines() if line.startswith(HELD_LINE)]
    for line in r.audit_output.splitlines():
        if not line.startswith(HELD_LINE):
            r.say("  " + line)
    r.say(f"  ({len(held)} lines '{HELD_LINE} N leaves held by <file>': one per checkpoint served)")
    r.say("PASS" if r.passed else "FAIL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--workers", type=int, default=1, help="portal serve --workers (gunicorn when more than 1)")
    parser.add_argument("--reap", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reap:
        reap()
        return
    if args.seconds < 3 or args.clients < 1 or args.workers < 1:
        parser.error("--seconds must be at least 3, --clients and --workers at least 1")
    # A SIGTERM ends the drill through its cleanup, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(0 if run(args.seconds, args.clients, args.workers).passed else 1)


if __name__ == "__main__":
    main()
