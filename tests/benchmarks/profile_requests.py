"""Where one request's time goes: each kind of the load benchmark's mix run
in-process (Flask's test client, no HTTP, one thread) on a demo instance,
timed beside the landing page, with the SQL statements it runs and, with
--profile, the functions that cost most. Not a test: run it by hand.

    python tests/benchmarks/profile_requests.py [--database sqlite|postgresql]
        [--requests 200] [--subjects 1000] [--profile KIND]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load import PG, furnish_body  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind")
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--profile", help="print the costliest functions of this kind")
    parser.add_argument("--sql", help="print the SQL statements of one request of this kind")
    parser.add_argument("--only", action="append", help="measure only this kind (repeatable)")
    args = parser.parse_args()
    if args.requests < 1 or args.subjects < 0:
        parser.error("--requests must be positive, --subjects not negative")

    folder = Path(tempfile.mkdtemp(prefix="portal-profile-"))
    os.environ.update(
        {
            "PORTAL_INSTANCE_PATH": str(folder),
            "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
            "PORTAL_API_RATE_LIMIT": "1000000 per minute",
            "PORTAL_SWEEP_MINUTES": "0",
            "PORTAL_SESSION_COOKIE_SECURE": "0",
        }
    )
    database = None
    if args.database == "postgresql":
        import psycopg

        database = f"portal_profile_{os.getpid()}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {database}")
        os.environ["PORTAL_DATABASE_URL"] = f"postgresql+psycopg://{PG.removeprefix('postgresql://')}/{database}"
    try:
        print(f"building the demo ({args.subjects} subjects, {args.database}) ...", flush=True)
        # `python -m portal`: the portal on this interpreter's path (PYTHONPATH
        # may name another checkout, to compare two versions).
        done = subprocess.run(
            [sys.executable, "-m", "portal", "demo", "--subjects", str(args.subjects)], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"portal demo failed:\n{done.stdout}\n{done.stderr}")
        profile(folder, args)
    finally:
        if database is not None:
            import psycopg

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(folder, ignore_errors=True)


def profile(folder: Path, args: argparse.Namespace) -> None:
    from sqlalchemy import event

    from portal import create_app

    creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    person = next(x for x in creds["logins"] if x["role"] == "person" and x.get("subject_identifier"))
    bank = next(i for i in creds["institutions"] if i["code"] == "hengtong-bank")
    query_key = next(k["token"] for k in bank["api_keys"] if "query" in k["scopes"])
    furnish_key = next(k["token"] for k in bank["api_keys"] if "furnish" in k["scopes"])

    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    statements = [0]
    shown: list[str] = []

    def count(_conn, _cursor, statement, *_rest) -> None:
        statements[0] += 1
        shown.append(statement)

    event.listen(app.extensions["portal.db"].engine, "before_cursor_execute", count)
    client = app.test_client()
    done = client.post("/login", data={"email": person["login"], "password": person["password"]})
    if done.status_code != 302:
        sys.exit(f"sign-in failed ({done.status_code})")
    subject_id = re.search(rb"/subjects/([0-9a-f-]{36})/report", client.get("/me").data).group(1).decode()
    rng = random.Random(1)
    api = app.test_client()  # an institution's client: no cookie

    def furnish():
        body = furnish_body(rng)
        return api.post("/api/v1/records", json=body, headers={"Authorization": f"Bearer {furnish_key}"})

    kinds = {
        "landing page": lambda: client.get("/"),
        "report page": lambda: client.get(f"/subjects/{subject_id}/report"),
        "who accessed": lambda: client.get(f"/subjects/{subject_id}/access"),
        "api query": lambda: api.get(
            f"/api/v1/reports/{person['subject_identifier']}?purpose=loan_approval&kind=person",
            headers={"Authorization": f"Bearer {query_key}"},
        ),
        "api furnish": furnish,
    }
    print(f"\n{'kind':<14} {'ms/request':>10} {'CPU ms':>8} {'÷ landing':>10} {'statements':>11}")
    landing = None
    for name, call in kinds.items():
        if args.only and name not in args.only:
            continue
        for _ in range(5):  # warm caches and connections
            call()
        timings, cpu = [], []
        statements[0] = 0
        profiler = cProfile.Profile() if name == args.profile else None
        for _ in range(args.requests):
            start, started = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            response = call()
            if profiler:
                profiler.disable()
            timings.append(time.perf_counter() - start)
            cpu.append(time.process_time() - started)
            if response.status_code >= 300:
                sys.exit(f"{name}: {response.status_code} {response.data[:300]!r}")
        if name == args.sql:
            shown.clear()
            call()
            print("\n".join(f"  {' '.join(q.split())[:300]}" for q in shown))
        ms = statistics.median(timings) * 1e3
        if name == "landing page":
            landing = ms
        cpu_ms = statistics.median(cpu) * 1e3
        ratio = f"{ms / landing:.1f}" if landing else "-"
        print(f"{name:<14} {ms:10.2f} {cpu_ms:8.2f} {ratio:>10} {statements[0] / args.requests:11.1f}")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
            print(out.getvalue())


if __name__ == "__main__":
    main()
