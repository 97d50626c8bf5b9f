"""Load benchmark: a served portal under concurrent users, measured side by
side with its cheapest page in the same run. Not a test: run it by hand.

    python tests/benchmarks/load.py [--database sqlite|postgresql] [--users 50]
        [--seconds 60] [--subjects 1000] [--threads 8] [--workers 1]

It builds a demo instance in a temporary folder (on PostgreSQL, a database
of its own, dropped after, with rate limits in Redis), serves it with
`portal serve`, and runs `--users` concurrent clients for `--seconds`, each
looping over the mix a registry sees: a subject's report page, the
who-accessed page, an institution's report query under consent, and an
institution furnishing a record. Each client keeps one HTTP connection. It
prints throughput, p50/p95/p99 and errors per kind, then the landing page
alone measured the same way, the ratio of the two, and runs `portal audit
verify` on what the load wrote.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from portal.records.identifiers import resident_id_check

HOST = "127.0.0.1"
PG = os.environ.get("PORTAL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("PORTAL_BENCH_REDIS", "redis://127.0.0.1:6379")
PORTAL = str(Path(sys.executable).with_name("portal"))
# The mix: (kind, weight).
MIX = (("report page", 3), ("who accessed", 2), ("api query", 3), ("api furnish", 2))
SESSIONS = 5  # sign-ins (the login form allows 10 a minute from one address)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PORTAL, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"portal {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Client:
    """One user: a kept-alive connection and, for pages, a signed-in cookie."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port, self.cookie = port, cookie
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in (1, 2):  # the server may close a kept-alive connection
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def sign_in(port: int, email: str, password: str) -> tuple[str, str]:
    """A session cookie and the subject's id, through the real login form."""
    client = Client(port)
    status, headers, body = client.request("GET", "/login")
    cookie = "; ".join(v.split(";")[0] for k, v in headers if k.lower() == "set-cookie")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body) or re.search(
        rb'name="csrf_token" value="([^"]+)"', body
    )
    if token is None:
        sys.exit("no CSRF token on the login page")
    form = urllib.parse.urlencode({"csrf_token": token.group(1).decode(), "email": email, "password": password})
    client.cookie = cookie
    status, headers, _ = client.request(
        "POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    cookies = [v.split(";")[0] for k, v in headers if k.lower() == "set-cookie"]
    if status != 302 or not cookies:
        sys.exit(f"sign-in as {email} failed ({status})")
    client.cookie = "; ".join(cookies)
    status, headers, body = client.request("GET", "/me")  # the dashboard links the report
    match = re.search(rb"/subjects/([0-9a-f-]{36})/report", body)
    if match is None:
        sys.exit(f"the dashboard names no subject ({status})")
    return client.cookie, match.group(1).decode()


def new_identifier(rng: random.Random) -> str:
    born = f"{rng.randint(1950, 1999)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"110105{born}{rng.randint(0, 999):03d}"
    return first17 + resident_id_check(first17)


def furnish_body(rng: random.Random) -> dict:
    """A new loan of a new subject, as the mix furnishes it."""
    return {
        "subject": {"kind": "person", "identifier": new_identifier(rng), "name": "负载测试"},
        "record": {
            "category": "loan",
            "reference": f"LOAD-{rng.getrandbits(48):012x}",
            "status": "active",
            "negative": False,
            "ended_on": None,
            "details": {"currency": "CNY", "principal": "120000.00", "balance": "80000.00", "opened_on": "2024-05-01"},
        },
    }


def load(port: int, users: int, seconds: float, actions, cookies: list[str]) -> dict[str, list]:
    """Run `users` clients for `seconds`; each picks actions by weight.
    Returns latencies (s) and errors per kind."""
    results: dict[str, list] = defaultdict(list)
    errors: dict[str, list] = defaultdict(list)
    lock = threading.Lock()
    start = threading.Barrier(users + 1)
    deadline = [0.0]

    def user(n: int) -> None:
        rng = random.Random(n)
        client = Client(port, cookies[n % len(cookies)] if cookies else "")
        kinds, weights = zip(*[(k, w) for k, w in actions], strict=True)
        mine, bad = defaultdict(list), defaultdict(list)
        start.wait()
        while (now := time.perf_counter()) < deadline[0]:
            kind = rng.choices(kinds, weights)[0]
            method, path, body, headers, ok = ACTIONS[kind](rng)
            try:
                status, _, _ = client.request(method, path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                status = repr(exc)
            took = time.perf_counter() - now
            (mine if status in ok else bad)[kind].append(took if status in ok else status)
        with lock:
            for k, v in mine.items():
                results[k].extend(v)
            for k, v in bad.items():
                errors[k].extend(v)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    results["_elapsed"] = [time.perf_counter() - began]
    return {"ok": results, "errors": errors}


ACTIONS: dict = {}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def report(title: str, outcome: dict) -> float:
    elapsed = outcome["ok"].pop("_elapsed")[0]
    every = [t for v in outcome["ok"].values() for t in v]
    errs = sum(len(v) for v in outcome["errors"].values())
    rate = len(every) / elapsed
    print(f"\n{title}: {len(every)} ok, {errs} errors in {elapsed:.1f} s = {rate:.1f} req/s")
    print(f"  {'kind':<14} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for kind in sorted(set(outcome["ok"]) | set(outcome["errors"])):
        v = outcome["ok"].get(kind, [])
        e = outcome["errors"].get(kind, [])
        print(
            f"  {kind:<14} {len(v) / elapsed:7.1f} {pct(v, 50) * 1e3:8.0f} {pct(v, 95) * 1e3:8.0f} "
            f"{pct(v, 99) * 1e3:8.0f} {len(e):7d}"
        )
        if e:
            print(f"    first errors: {sorted({str(x) for x in e})[:5]}")
    if every:
        print(
            f"  {'all':<14} {rate:7.1f} {pct(every, 50) * 1e3:8.0f} {pct(every, 95) * 1e3:8.0f} "
            f"{pct(every, 99) * 1e3:8.0f} {errs:7d}"
        )
    return rate


def leaf_latency(env: dict[str, str], since: datetime) -> None:
    """How long the events of the run (those after `since`) waited for
    their leaf: from the event to the integrator's append, which is signed
    in the same transaction."""
    from sqlalchemy import text

    from portal.db import make_engine

    url = env.get("PORTAL_DATABASE_URL") or f"sqlite:///{Path(env['PORTAL_INSTANCE_PATH']) / 'portal.sqlite3'}"
    engine = make_engine(url)
    with engine.connect() as c:
        rows = c.execute(
            text(
                'SELECT e.occurred_at, l.appended_at FROM access_events e JOIN log_leaves l ON l."index" = e.log_index'
            )
        ).all()
        waiting = c.execute(text("SELECT count(*) FROM access_events WHERE log_index IS NULL")).scalar_one()
    engine.dispose()

    def moment(v):  # SQLite hands back text
        v = datetime.fromisoformat(v) if isinstance(v, str) else v
        return v if v.tzinfo else v.replace(tzinfo=UTC)

    waits = [
        (moment(appended) - moment(occurred)).total_seconds()
        for occurred, appended in rows
        if moment(occurred) >= since
    ]
    if waits:
        ms = {p: pct(waits, p) * 1e3 for p in (50, 95, 99)}
        print(
            f"\nevent to leaf: {len(waits)} events, p50 {ms[50]:.0f} ms, p95 {ms[95]:.0f} ms, p99 {ms[99]:.0f} ms,"
            f" max {max(waits) * 1e3:.0f} ms; {waiting} not yet in the log"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cheap-seconds", type=float, default=20, help="how long the landing page is measured")
    parser.add_argument("--subjects", type=int, default=1000, help="demo subjects besides the showcase")
    parser.add_argument("--threads", type=int, default=8, help="portal serve --threads")
    parser.add_argument("--workers", type=int, default=1, help="portal serve --workers (gunicorn when more than 1)")
    args = parser.parse_args()
    if args.users < 1 or args.seconds <= 0 or args.subjects < 0:
        parser.error("--users and --seconds must be positive, --subjects not negative")

    folder = Path(tempfile.mkdtemp(prefix="portal-load-"))
    env = {
        **os.environ,
        "PORTAL_INSTANCE_PATH": str(folder),
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_API_RATE_LIMIT": "1000000 per minute",  # the load is the point, not the limit
        "PORTAL_SWEEP_MINUTES": "0",
    }
    database = None
    if args.database == "postgresql":
        import psycopg

        database = f"portal_load_{os.getpid()}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {database}")
        env["PORTAL_DATABASE_URL"] = f"postgresql+psycopg://{PG.removeprefix('postgresql://')}/{database}"
        env["PORTAL_RATELIMIT_STORAGE_URI"] = REDIS
    server = None
    try:
        print(f"building the demo ({args.subjects} subjects, {args.database}) in {folder} ...", flush=True)
        run(env, "demo", "--subjects", str(args.subjects))
        creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
        person = next(x for x in creds["logins"] if x["role"] == "person" and x.get("subject_identifier"))
        bank = next(i for i in creds["institutions"] if i["code"] == "hengtong-bank")
        query_key = next(k["token"] for k in bank["api_keys"] if "query" in k["scopes"])
        furnish_key = next(k["token"] for k in bank["api_keys"] if "furnish" in k["scopes"])

        port = free_port()
        server = subprocess.Popen(
            [PORTAL, "serve", "--port", str(port), "--threads", str(args.threads)]
            + (["--workers", str(args.workers)] if args.workers > 1 else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "serve.log").open("w"),  # a pipe nobody reads would stall the server
        )
        for _ in range(200):
            try:
                if Client(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("the portal did not start")
        signed_in = [sign_in(port, person["login"], person["password"]) for _ in range(SESSIONS)]
        subject_id = signed_in[0][1]
        cookies = [c for c, _ in signed_in]
        identifier = person["subject_identifier"]

        def furnish(rng: random.Random):
            headers = {"Authorization": f"Bearer {furnish_key}", "Content-Type": "application/json"}
            return "POST", "/api/v1/records", json.dumps(furnish_body(rng)).encode(), headers, {201}

        ACTIONS.update(
            {
                "report page": lambda rng: ("GET", f"/subjects/{subject_id}/report", None, {}, {200}),
                "who accessed": lambda rng: ("GET", f"/subjects/{subject_id}/access", None, {}, {200}),
                "api query": lambda rng: (
                    "GET",
                    f"/api/v1/reports/{identifier}?purpose=loan_approval&kind=person",
                    None,
                    {"Authorization": f"Bearer {query_key}"},
                    {200},
                ),
                "api furnish": furnish,
                "landing page": lambda rng: ("GET", "/", None, {}, {200}),
            }
        )
        print(
            f"serving on port {port}: {args.workers} process(es) of {args.threads} threads; "
            f"{args.users} users for {args.seconds:.0f} s"
        )
        began = datetime.now(UTC)
        mixed = report("mixed load", load(port, args.users, args.seconds, MIX, cookies))
        cheap = report(
            "cheapest page (landing page)", load(port, args.users, args.cheap_seconds, (("landing page", 1),), [])
        )
        ratio = f"{mixed / cheap:.2f}" if cheap else "n/a (the landing page was never served)"
        print(f"\nmixed ÷ cheapest page: {ratio}")
        leaf_latency(env, began)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    started = time.perf_counter()
    verified = subprocess.run([PORTAL, "audit", "verify"], env=env, capture_output=True, text=True)
    print(f"\nportal audit verify ({time.perf_counter() - started:.1f} s): exit {verified.returncode}")
    print("  " + (verified.stdout.strip() or verified.stderr.strip()).replace("\n", "\n  "))
    if database:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    shutil.rmtree(folder, ignore_errors=True)
    if verified.returncode != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
