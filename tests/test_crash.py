"""A served portal killed under load loses nothing: with institutions
furnishing and querying, a web worker process and the job worker (the log
integrator) are killed with SIGKILL. Every action the portal acknowledged
is there with its access event, and once the job worker runs again every
queued leaf is in the log exactly once and `portal audit verify` passes."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portal.audit.models import AccessEvent, EventKind
from portal.db import make_engine, utcnow
from portal.records.identifiers import resident_id_check
from portal.records.models import CreditRecord
from portal.transparency.models import LogHead, LogLeaf, LogQueue

from .test_serve import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def own_database(database_url, tmp_path):
    """A database of the suite's kind for a served instance of its own."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'served.sqlite3'}"
        return
    name = f"portal_test_crash_{os.getpid()}"
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def portal(env, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "portal", *args], env=env, capture_output=True, text=True, **kwargs)


def children(pid: int) -> dict[int, str]:
    ps = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True)
    return {int(p): args for p, _, args in (line.strip().partition(" ") for line in ps.stdout.splitlines())}


def test_killing_a_web_worker_and_the_integrator_under_load_loses_nothing(own_database, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        PORTAL_INSTANCE_PATH=str(tmp_path / "instance"),
        PORTAL_DATABASE_URL=own_database,
        PORTAL_SECRET_KEY="crash-test",
        PORTAL_API_RATE_LIMIT="1000000 per minute",
        PORTAL_SWEEP_MINUTES="0",
    )
    made = portal(env, "demo", "--subjects", "20")
    assert made.returncode == 0, made.stderr
    creds = json.loads((tmp_path / "instance" / "demo-credentials.json").read_text(encoding="utf-8"))
    person = next(x for x in creds["logins"] if x["role"] == "person" and x.get("subject_identifier"))
    bank = next(i for i in creds["institutions"] if i["code"] == "hengtong-bank")
    keys = {scope: next(k["token"] for k in bank["api_keys"] if scope in k["scopes"]) for scope in ("query", "furnish")}

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "--workers", "2", "--threads", "4", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    acked: dict[str, list[tuple[float, uuid.UUID]]] = {"record": [], "query": []}
    stop = threading.Event()
    wrong: list[str] = []

    def one_user(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            if rng.random() < 0.5:
                first17 = f"110105{rng.randint(1950, 1999)}0101{rng.randint(0, 999):03d}"
                body = {
                    "subject": {"kind": "person", "identifier": first17 + resident_id_check(first17), "name": "测试"},
                    "record": {
                        "category": "loan",
                        "reference": f"CRASH-{uuid.uuid4().hex}",
                        "status": "active",
                        "negative": False,
                        "details": {"currency": "CNY", "principal": "1000.00", "opened_on": "2024-05-01"},
                    },
                }
                request = ("POST", "/api/v1/records", json.dumps(body), "furnish", 201)
            else:
                path = f"/api/v1/reports/{person['subject_identifier']}?purpose=loan_approval&kind=person"
                request = ("GET", path, None, "query", 200)
            method, path, payload, scope, ok = request
            headers = {"Authorization": f"Bearer {keys[scope]}", "Content-Type": "application/json"}
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):  # the worker died under it: not acknowledged
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            if response.status == ok:
                got = json.loads(answer)
                ref = got["record_id"] if scope == "furnish" else got["report"]["query"]["id"]
                acked["record" if scope == "furnish" else "query"].append((time.monotonic(), uuid.UUID(ref)))
            elif response.status not in (502, 503):
                wrong.append(f"{method} {path}: {response.status} {answer[:300]!r}")

    try:
        for _ in range(300):  # up: a page answers
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        began = utcnow()
        users = [threading.Thread(target=one_user, args=(n,)) for n in range(6)]
        for t in users:
            t.start()
        time.sleep(2)
        procs = children(server.pid)
        job_worker = next(pid for pid, args in procs.items() if "portal worker" in args)
        web_worker = next(pid for pid, args in procs.items() if pid != job_worker)
        os.kill(job_worker, signal.SIGKILL)
        os.kill(web_worker, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(3)  # gunicorn starts another web worker; the load goes on
        stop.set()
        for t in users:
            t.join(timeout=60)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=60)

    assert wrong == []
    records, queries = ({ref for _, ref in acked[k]} for k in ("record", "query"))
    assert len(records) > 10
    assert len(queries) > 10
    assert any(at > killed_at + 0.5 for at, _ in acked["record"] + acked["query"]), "nothing served after the kill"

    # Restarted, the job worker integrates everything still queued.
    again = portal(env, "worker", "--once", timeout=300)
    assert again.returncode == 0, again.stderr

    engine = make_engine(own_database)
    with engine.connect() as c:
        kept = set(c.scalars(select(CreditRecord.id).where(CreditRecord.id.in_(records))))
        assert kept == records, "an acknowledged record is missing"
        served = set(c.scalars(select(AccessEvent.id).where(AccessEvent.id.in_(queries))))
        assert served == queries, "an acknowledged query has no event"
        # One furnishing event per record made under the load: they commit together.
        assert c.scalar(select(func.count()).where(CreditRecord.created_at >= began)) == c.scalar(
            select(func.count()).where(AccessEvent.kind == EventKind.RECORD_FURNISHED, AccessEvent.occurred_at >= began)
        )
        assert c.scalar(select(func.count()).select_from(LogQueue)) == 0
        events = c.scalar(select(func.count()).select_from(AccessEvent))
        assert c.scalar(select(func.count()).where(AccessEvent.log_index.is_(None))) == 0
        assert c.scalar(select(func.count(func.distinct(AccessEvent.log_index)))) == events
        assert c.scalar(select(LogHead.size)) == c.scalar(select(func.count()).select_from(LogLeaf)) == events
    engine.dispose()
    verified = portal(env, "audit", "verify", timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
