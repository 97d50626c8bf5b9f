"""Benchmarks, printed as ratios measured side by side in one run (a timing
alone means little on a shared machine). Not a test: run it by hand.

    python tests/benchmarks/bench.py [--rounds N] [--leaves N] [--cases N] [--events N]
        [--checkpoints N] [--disputes N] [--access-events N] [--registry-subjects N] [--bench-database URL]
        [--only vault|log|queue|events|witness|compliance ...]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from portal.crypto import Keyring, Vault, init_keys
from portal.db import Base, make_engine
from portal.models import all_models
from portal.records.models import Category, RecordStatus
from portal.records.services import RecordInput, build_version, open_payload


def medians(cases: dict[str, Callable[[], None]], rounds: int) -> tuple[dict[str, float], int]:
    """Run the slow cases side by side, each round in turn (at most 3
    rounds); the median seconds of each, and the rounds run."""
    done = max(1, min(rounds, 3))
    timed: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(done):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            timed[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in timed.items()}, done


def typical_record() -> RecordInput:
    return RecordInput(
        Category.LOAN,
        "LOA-00012345",
        RecordStatus.OVERDUE,
        True,
        None,
        {
            "currency": "CNY",
            "loan_type": "consumer",
            "principal": "200000.00",
            "balance": "153422.17",
            "overdue_amount": "8210.55",
            "overdue_months": 3,
            "opened_on": "2021-03-14",
            "maturity_on": "2026-03-14",
        },
    )


def best_per_op(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Median over rounds of the time per call, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def bench_vault(rounds: int, tmp: str) -> None:
    from pathlib import Path

    init_keys(Path(tmp) / "keys")
    vault = Vault(Keyring.load(Path(tmp) / "keys"))
    engine = make_engine("sqlite://")
    all_models()
    Base.metadata.create_all(engine)
    session = Session(engine)
    cipher = vault.create_key(session)
    data = typical_record()
    version = build_version(cipher, secrets.token_bytes(16).hex(), 1, data)
    payload = data.payload().encode()
    aad = f"record_versions.payload.{version.id}.1".encode()
    raw = AESGCM(vault.keyring.keks[1][:32])  # any 256-bit key: the same work as the data key
    nonce = secrets.token_bytes(12)
    sealed_raw = raw.encrypt(nonce, payload, aad)

    n = 2000
    sealed = cipher.seal("record_versions", "payload", version.id, payload)
    cases = {
        "seal (Cipher.seal: header, AAD, nonce, AES-GCM)": lambda: cipher.seal(
            "record_versions", "payload", version.id, payload
        ),
        "seal (raw AESGCM.encrypt, same bytes and AAD)": lambda: raw.encrypt(secrets.token_bytes(12), payload, aad),
        "open (Cipher.open: checks, AAD, AES-GCM)": lambda: cipher.open(
            "record_versions", "payload", version.id, sealed
        ),
        "open (raw AESGCM.decrypt, same bytes and AAD)": lambda: raw.decrypt(nonce, sealed_raw, aad),
        "build a record version (ORM row, JSON, seal)": lambda: build_version(cipher, version.record_id, 1, data),
        "read a record payload (open, JSON parse)": lambda: open_payload(cipher, version),
    }
    # Interleave the cases round by round so background load hits them alike.
    results = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            results[name].append(best_per_op(fn, n, 1))
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"typical record: {len(payload)} bytes of JSON; {rounds} rounds x {n} calls, median per call")
    for name, us in med.items():
        print(f"  {name:<50} {us:8.2f} us")
    names = list(cases)
    print(f"  ratio seal vault/raw: {med[names[0]] / med[names[1]]:.2f}x")
    print(f"  ratio open vault/raw: {med[names[2]] / med[names[3]]:.2f}x")
    print(
        f"  ratio record version build/raw encrypt: {med[names[4]] / med[names[1]]:.1f}x, "
        f"payload read/raw decrypt: {med[names[5]] / med[names[3]]:.1f}x"
    )

    # First touch of a subject in a request: unwrap its data key from the row.
    key_id = cipher.key_id
    session.commit()

    def cold_open():
        session.info.pop("portal.ciphers", None)
        open_payload(vault.cipher(session, key_id), version)

    cold = best_per_op(cold_open, 500, rounds)
    print(
        f"  first read of a subject (load + unwrap its data key, then open): {cold:.2f} us, "
        f"{cold / med[names[3]]:.0f}x raw decrypt"
    )


# -- the transparency log ---------------------------------------------------------
def bench_log(leaves: int, rounds: int, tmp: str) -> None:
    import hashlib
    import random
    import sqlite3
    from pathlib import Path

    from sqlalchemy import event, select

    from portal.transparency import log, merkle
    from portal.transparency.checkpoints import latest_checkpoint, verify_log
    from portal.transparency.models import LogNode
    from portal.transparency.notes import Signer, create_key_file

    create_key_file(Path(tmp) / "logkey")
    signer = Signer.load(Path(tmp) / "logkey")
    all_models()

    # 1. Appends through the service, one transaction each (as every access
    # event is), against a raw sqlite3 INSERT + COMMIT of one 32-byte row.
    n = 2000
    appends, raw_inserts, batched = [], [], []
    for r in range(rounds):
        engine = make_engine(f"sqlite:///{tmp}/appends-{r}.sqlite3")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            start = time.perf_counter()
            for i in range(n):
                log.append(session, i.to_bytes(8, "big"))
                session.commit()
            appends.append(n / (time.perf_counter() - start))
            start = time.perf_counter()
            for i in range(n):
                log.append(session, i.to_bytes(8, "big"))
                if i % 1000 == 999:
                    session.commit()
            batched.append(n / (time.perf_counter() - start))
        engine.dispose()
        raw = sqlite3.connect(f"{tmp}/raw-{r}.sqlite3", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, h BLOB NOT NULL)")
        start = time.perf_counter()
        for i in range(n):
            raw.execute("BEGIN")
            raw.execute("INSERT INTO t VALUES (?, ?)", (i, hashlib.sha256(i.to_bytes(8, "big")).digest()))
            raw.execute("COMMIT")
        raw_inserts.append(n / (time.perf_counter() - start))
        raw.close()
    a, b, c = statistics.median(appends), statistics.median(raw_inserts), statistics.median(batched)
    print(f"appends on SQLite (file, WAL), {rounds} rounds x {n}, median")
    print(f"  {'log.append, one transaction each':<50} {a:10.0f} /s")
    print(f"  {'raw sqlite3 INSERT + COMMIT of one row':<50} {b:10.0f} /s")
    print(f"  {'log.append, 1000 per transaction':<50} {c:10.0f} /s")
    print(f"  ratio raw/append (one transaction each): {b / a:.2f}x")

    # 2. Build a log of `leaves` leaves in SQLite with bulk inserts.
    start = time.perf_counter()
    hashes = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(leaves)]
    levels = merkle.build_levels(b"".join(hashes))
    path = f"{tmp}/log-{leaves}.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("BEGIN")
    stamp = "2026-01-01 00:00:00.000000"
    raw.executemany(
        'INSERT INTO log_leaves ("index", leaf_hash, appended_at) VALUES (?, ?, ?)',
        ((i, h, stamp) for i, h in enumerate(hashes)),
    )
    for level, blob in enumerate(levels):
        raw.executemany(
            'INSERT INTO log_nodes (level, "index", hash) VALUES (?, ?, ?)',
            ((level, i, blob[32 * i : 32 * i + 32]) for i in range(len(blob) // 32)),
        )
    raw.execute("INSERT INTO log_head (id, size) VALUES (1, ?)", (leaves,))
    raw.execute("COMMIT")
    raw.close()
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        latest_checkpoint(session, signer)
        session.commit()
    nodes = sum(len(b) // 32 for b in levels)
    print(
        f"built a log of {leaves:,} leaves ({nodes:,} stored subtrees) with bulk inserts in "
        f"{time.perf_counter() - start:.1f} s"
    )

    # 3. Full verification: raw SHA-256 over the leaf hashes, the in-memory
    # recomputation audit verify does, and the whole `verify_log`.
    def raw_sha() -> None:
        sha = hashlib.sha256
        for h in hashes:
            sha(h).digest()

    def recompute() -> None:
        merkle.MemoryTree(merkle.build_levels(b"".join(hashes))).root(leaves)

    def full() -> None:
        with Session(engine) as session:
            report = verify_log(session, signer.vkey)
            assert report.size == leaves
            assert report.checkpoints == 1

    med, done = medians({"raw": raw_sha, "recompute": recompute, "full": full}, rounds)
    print(f"verifying {leaves:,} leaves, {done} rounds, median")
    print(f"  {'raw hashlib.sha256 over each 32-byte leaf hash':<50} {med['raw']:8.2f} s")
    print(f"  {'recompute every subtree and the root (in memory)':<50} {med['recompute']:8.2f} s")
    print(f"  {'portal audit verify (read, recompute, compare)':<50} {med['full']:8.2f} s")
    print(
        f"  ratio recompute/raw: {med['recompute'] / med['raw']:.2f}x, full verify/raw: {med['full'] / med['raw']:.1f}x"
    )

    # 4. One inclusion proof at `leaves` leaves: SQL statements and time,
    # against reading one stored hash by primary key.
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    rng = random.Random(7)
    with Session(engine) as session:
        root = log.root(session, leaves)
        statements.clear()
        proof = log.inclusion_proof(session, rng.randrange(leaves), leaves)
        per_proof = len(statements)
        merkle.verify_inclusion(0, leaves, hashes[0], log.inclusion_proof(session, 0, leaves), root)
        indices = [rng.randrange(leaves) for _ in range(200)]

        def one_read(i: int):
            return select(LogNode.hash).where(LogNode.level == 0, LogNode.index == i)

        proof_us, read_us = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            for i in indices:
                log.inclusion_proof(session, i, leaves)
            proof_us.append((time.perf_counter() - start) / len(indices) * 1e6)
            start = time.perf_counter()
            for i in indices:
                session.execute(one_read(i)).scalar_one()
            read_us.append((time.perf_counter() - start) / len(indices) * 1e6)
    engine.dispose()
    p, r1 = statistics.median(proof_us), statistics.median(read_us)
    print(f"one inclusion proof at {leaves:,} leaves: {len(proof)} hashes from {per_proof} SQL statement(s)")
    print(f"  {'inclusion proof (one query, then hashing)':<50} {p:8.1f} us")
    print(f"  {'one stored hash by primary key':<50} {r1:8.1f} us")
    print(f"  ratio proof/one read: {p / r1:.1f}x")


def bench_queue(cases: int, rounds: int, tmp: str) -> None:
    """The officers' queue (deadline order from SQL, paused cases merged in
    by their frozen days left, then the page's furnishers and officers):
    its first page against the plain SQL query of the 25 soonest
    deadlines, on `cases` open disputes."""
    import random
    from datetime import timedelta
    from pathlib import Path

    from sqlalchemy import select

    from portal import create_app
    from portal.accounts.models import Role, User
    from portal.accounts.services import create_user
    from portal.compliance import queue as officers
    from portal.demo import load_demo
    from portal.disputes.decisions import expire_overdue
    from portal.disputes.models import OPEN_STATUSES, Dispute, DisputeReason
    from portal.disputes.services import file_dispute
    from portal.extensions import session, vault
    from portal.migrations import upgrade
    from portal.records.models import CreditRecord
    from portal.transparency.notes import create_key_file

    init_keys(Path(tmp) / "qkeys")
    create_key_file(Path(tmp) / "qkeys")
    app = create_app(
        {"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{tmp}/queue.sqlite3", "KEY_DIR": str(Path(tmp) / "qkeys")}
    )
    with app.app_context():
        s, v = session(), vault()
        upgrade(app.extensions["portal.db"].engine)
        v.register_versions(s)
        load_demo(s, v, subjects=cases, seed=7)
        officer = create_user(s, v, role=Role.OFFICER, email="bench@officer.example", display_name="bench")
        rng = random.Random(7)
        today = utcnow_date()
        start = time.perf_counter()
        filed = 0
        for record in s.scalars(select(CreditRecord).order_by(CreditRecord.id)):
            if filed >= cases:
                break
            subject = record.subject
            by = s.scalar(select(User).where(User.subject_id == subject.id)) or officer
            try:
                file_dispute(
                    s,
                    v,
                    subject,
                    by,
                    [record.id],
                    rng.choice(list(DisputeReason)[:7]),
                    "bench",
                    today=today - timedelta(days=rng.randint(0, 40)),
                )
            except ValueError:
                continue
            filed += 1
        s.commit()
        per_filing = (time.perf_counter() - start) / max(filed, 1) * 1e3
        sql = select(Dispute.id).where(Dispute.status.in_(OPEN_STATUSES)).order_by(Dispute.due_on).limit(25)
        q = best_per_op(lambda: officers.queue(s, v, officer), 1, rounds) / 1e3
        r = best_per_op(lambda: s.execute(sql).all(), 1, rounds) / 1e3
        e = best_per_op(lambda: expire_overdue(s, v), 1, rounds) / 1e3
        s.rollback()
    print(f"  {filed} open cases; filing one (checks, seal, timeline, log leaf): {per_filing:.2f} ms")
    print(f"  {'queue, first page':<50} {q:8.2f} ms")
    print(f"  {'SQL: 25 soonest deadlines':<50} {r:8.2f} ms")
    print(f"  {'deadline sweep with nothing due':<50} {e:8.2f} ms")
    print(f"  ratio queue/SQL: {q / r:.1f}x")


def bench_events(events: int, rounds: int, tmp: str) -> None:
    """The events half of `portal audit verify` (every event decrypted,
    re-serialised and hashed, against its leaf) and the whole command,
    against a raw script that reads the same rows, opens each subject's key
    once and decrypts and hashes each event with AESGCM and hashlib."""
    import base64
    import json
    from pathlib import Path

    from click.testing import CliRunner
    from sqlalchemy import select

    from portal import create_app
    from portal.audit.events import audit_events, event_document, leaf_data, record_event
    from portal.audit.integrator import integrate_all
    from portal.audit.log_routes import log_signer
    from portal.audit.models import AccessEvent, EventKind
    from portal.extensions import session, vault
    from portal.migrations import upgrade
    from portal.records.identifiers import resident_id_check
    from portal.records.models import Subject, SubjectKind
    from portal.records.services import create_subject
    from portal.transparency import merkle
    from portal.transparency.checkpoints import read_leaf_hashes
    from portal.transparency.notes import create_key_file

    keys = Path(tmp) / "ekeys"
    init_keys(keys)
    create_key_file(keys)
    url = f"sqlite:///{tmp}/events.sqlite3"
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "KEY_DIR": str(keys)})
    start = time.perf_counter()
    with app.app_context():
        s, v = session(), vault()
        upgrade(app.extensions["portal.db"].engine)
        v.register_versions(s)
        subjects = []
        for n in range(100):
            first17 = f"1101051980{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n:03d}"
            subjects.append(create_subject(s, v, SubjectKind.PERSON, first17 + resident_id_check(first17), f"测试{n}"))
        for i in range(events):
            record_event(s, v, subjects[i % 100], EventKind.SELF_QUERY, detail={"what": "report", "page": i % 7})
            if i % 5000 == 4999:
                s.commit()
        s.commit()
        integrate_all(s, log_signer())
    print(f"built {events:,} events for 100 subjects, integrated, in {time.perf_counter() - start:.1f} s")

    def raw() -> None:
        # What any verifier must do at the least: read each row, open the
        # subject's key once, decrypt, re-serialise and hash.
        with app.app_context():
            s, v = session(), vault()
            leaves = read_leaf_hashes(s)
            ciphers = {}
            for subject in s.scalars(select(Subject)):
                ciphers[subject.id] = v.cipher(s, subject.data_key_id)
            count = 0
            for event in s.scalars(select(AccessEvent).execution_options(yield_per=2000)):
                count += 1
                detail = json.loads(ciphers[event.subject_id].open_field(event, "detail"))
                salt = detail.pop("_salt")
                d = leaf_data(base64.b64decode(salt), event_document(event, detail))
                assert merkle.leaf_hash(d) == leaves[event.log_index * 32 : event.log_index * 32 + 32]
            assert count == events

    def half() -> None:
        with app.app_context():
            s = session()
            assert audit_events(s, vault(), read_leaf_hashes(s)) == events

    def command() -> None:
        with app.app_context():
            result = CliRunner().invoke(app.cli, ["audit", "verify"], catch_exceptions=False)
            assert result.exit_code == 0, result.output

    med, done = medians({"raw": raw, "half": half, "command": command}, rounds)
    print(f"auditing {events:,} events, {done} rounds, median")
    print(f"  {'raw: read, decrypt, re-serialise, hash each event':<50} {med['raw']:8.2f} s")
    print(f"  {'the events half of audit verify':<50} {med['half']:8.2f} s")
    print(f"  {'portal audit verify (both halves)':<50} {med['command']:8.2f} s")
    half, whole = med["half"] / med["raw"], med["command"] / med["raw"]
    print(f"  ratio events half/raw: {half:.2f}x, whole command/raw: {whole:.2f}x")


def bench_witness(checkpoints: int, rounds: int, tmp: str) -> None:
    """Checkpoints signed per second by the integrator alone, and signed
    then cosigned by two witnesses served by `portal witness serve` on
    this machine (real HTTP), side by side."""
    import subprocess
    import sys
    from pathlib import Path

    from portal.audit.witnessing import Witnessing
    from portal.transparency import log
    from portal.transparency.checkpoints import latest_checkpoint
    from portal.transparency.cosign import Witness, WitnessPolicy
    from portal.transparency.notes import Signer, create_key_file
    from portal.witness.state import Store

    create_key_file(Path(tmp) / "witness-logkey")
    served, witnesses, folders = [], [], []
    for name in ("bench.example/w1", "bench.example/w2"):
        folder = Path(tmp) / name.replace("/", "-")
        portal = [sys.executable, "-P", "-m", "portal", "witness"]
        vkey = subprocess.run(
            [*portal, "init", "--dir", str(folder), "--name", name], capture_output=True, text=True, check=True
        ).stdout.strip()
        folders.append(folder)
        proc = subprocess.Popen(
            [*portal, "serve", "--dir", str(folder), "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        line = proc.stdout.readline() if proc.stdout else ""
        served.append(proc)
        witnesses.append(Witness.parse(vkey, line.strip().rstrip("/").rsplit(" ", 1)[-1]))
    policy = WitnessPolicy(tuple(witnesses), 2)
    all_models()
    try:

        def run(cosign: bool, r: int) -> float:
            # A log of its own each run (a witness refuses a log that starts again).
            signer = Signer.load(Path(tmp) / "witness-logkey", f"bench.example/log-{cosign}-{r}")
            for folder in folders:
                Store.open(folder).add_log_key(signer.vkey)
            engine = make_engine(f"sqlite:///{tmp}/witnessed-{cosign}-{r}.sqlite3")
            Base.metadata.create_all(engine)
            job = Witnessing(policy)
            with Session(engine) as session:
                start = time.perf_counter()
                for i in range(checkpoints):
                    log.append_many(session, [(i * 10 + k).to_bytes(8, "big") for k in range(10)])
                    latest_checkpoint(session, signer)
                    session.commit()
                    if cosign and job.run(session) != 2:
                        raise SystemExit("a witness did not cosign: is `portal witness serve` running?")
                    session.commit()
                rate = checkpoints / (time.perf_counter() - start)
            engine.dispose()
            return rate

        if not all(w.url.startswith("http://127.0.0.1:") for w in witnesses):
            raise SystemExit(f"the witnesses did not start: {[w.url for w in witnesses]}")
        alone, cosigned = [], []
        for r in range(rounds):
            alone.append(run(False, r))
            cosigned.append(run(True, r))
        a, c = statistics.median(alone), statistics.median(cosigned)
        print(f"checkpoints of 10 leaves each on SQLite, {rounds} rounds x {checkpoints}, median")
        print(f"  {'signed by the log alone':<50} {a:10.1f} /s")
        print(f"  {'signed, then cosigned by two witnesses (HTTP)':<50} {c:10.1f} /s")
        print(f"  ratio alone/cosigned: {a / c:.2f}x")
    finally:
        for proc in served:
            proc.kill()
            proc.wait()


def bench_compliance(size: tuple[int, int, int, str], rounds: int, tmp: str) -> None:
    """The compliance console on PostgreSQL at a registry's shape: the
    statistics of a year and the monitoring pass over a day, each against
    the plain SQL it rests on (the same SELECT statements, captured as the
    console sends them and run again straight through the driver)."""
    from datetime import timedelta
    from pathlib import Path

    from sqlalchemy import event

    from portal.compliance.monitoring import evaluate
    from portal.compliance.statistics import Period, statistics
    from portal.extensions import session, vault
    from portal.localtime import today
    from tests.benchmarks.compliance_data import prepare

    disputes, events, subjects, url = size
    print(
        f"building {disputes:,} disputes and {events:,} access events about {subjects:,} subjects "
        f"in {url.rsplit('/', 1)[-1]}",
        flush=True,
    )
    app = prepare(url, Path(tmp) / "ckeys", subjects=subjects, disputes=disputes, events=events)
    with app.app_context():
        s, v = session(), vault()
        day = today() - timedelta(days=3)
        year = Period(today() - timedelta(days=364), today())
        captured: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many):
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                captured.append((statement, parameters))

        def run(fn):
            engine = s.get_bind()
            captured.clear()
            event.listen(engine, "before_cursor_execute", capture)
            try:
                fn()
            finally:
                event.remove(engine, "before_cursor_execute", capture)
                s.rollback()
            return list(captured)

        def raw(statements):
            def go():
                driver = s.connection().connection.driver_connection
                with driver.cursor() as cursor:
                    for statement, parameters in statements:
                        cursor.execute(statement, parameters)
                        cursor.fetchall()
                s.rollback()

            return go

        def stats_fn():
            statistics(s, year)

        def monitor_fn():
            evaluate(s, v, [day])
            s.rollback()

        stats_sql, monitor_sql = run(stats_fn), run(monitor_fn)
        med, done = medians(
            {"stats": stats_fn, "stats_sql": raw(stats_sql), "monitor": monitor_fn, "monitor_sql": raw(monitor_sql)},
            rounds,
        )
    print(f"PostgreSQL, {done} rounds, median")
    print(f"  {'statistics of a year (' + str(len(stats_sql)) + ' statements)':<50} {med['stats']:8.2f} s")
    print(f"  {'the same SELECTs straight through psycopg':<50} {med['stats_sql']:8.2f} s")
    print(f"  {'monitoring pass over a day (' + str(len(monitor_sql)) + ' statements)':<50} {med['monitor']:8.2f} s")
    print(f"  {'the same SELECTs straight through psycopg':<50} {med['monitor_sql']:8.2f} s")
    print(
        f"  ratio statistics/SQL: {med['stats'] / med['stats_sql']:.2f}x, "
        f"monitoring/SQL: {med['monitor'] / med['monitor_sql']:.2f}x"
    )


def utcnow_date():
    from portal.db import utcnow

    return utcnow().date()


SECTIONS: dict[str, tuple[str, Callable[..., None]]] = {
    "vault": ("vault: sealing and opening a credit record", bench_vault),
    "log": ("transparency log", bench_log),
    "queue": ("officers' queue", bench_queue),
    "events": ("audit verify, events against their leaves", bench_events),
    "witness": ("witness cosigning", bench_witness),
    "compliance": ("compliance console: statistics and monitoring (PostgreSQL)", bench_compliance),
}


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (median is reported)")
    parser.add_argument("--leaves", type=int, default=1_000_000, help="size of the log to verify and prove from")
    parser.add_argument("--cases", type=int, default=5_000, help="open disputes in the officers' queue")
    parser.add_argument("--events", type=int, default=50_000, help="access events behind the log to audit")
    parser.add_argument("--checkpoints", type=int, default=300, help="checkpoints to sign (and have cosigned)")
    parser.add_argument("--disputes", type=int, default=100_000, help="disputes behind the compliance statistics")
    parser.add_argument(
        "--access-events", type=int, default=10_000_000, help="access events the compliance monitoring reads"
    )
    parser.add_argument(
        "--registry-subjects", type=int, default=1_000_000, help="subjects the compliance section's events are about"
    )
    parser.add_argument(
        "--bench-database",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench",
        help="PostgreSQL database for the compliance section (wiped: its name must contain 'bench')",
    )
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run this section (repeatable)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.leaves < 2:
        parser.error("--leaves must be at least 2")
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    if args.events < 1:
        parser.error("--events must be at least 1")
    if args.checkpoints < 1:
        parser.error("--checkpoints must be at least 1")
    size = {
        "vault": None,
        "log": args.leaves,
        "queue": args.cases,
        "events": args.events,
        "witness": args.checkpoints,
        "compliance": (args.disputes, args.access_events, args.registry_subjects, args.bench_database),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (title, bench) in SECTIONS.items():
            if args.only is None or name in args.only:
                print(f"== {title} ==", flush=True)
                bench(*(() if size[name] is None else (size[name],)), args.rounds, tmp)


if __name__ == "__main__":
    main()
