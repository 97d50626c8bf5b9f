"""Declarative partitioning of the access events by subject, measured. Not a
test: run it by hand, on an otherwise quiet PostgreSQL.

    python tests/benchmarks/partitioning.py [--events 10000000] [--subjects 1000000] [--partitions 16]
        [--days 100] [--institutions 2000] [--rounds 5] [--writers 4] [--insert-seconds 8] [--quick]

In a database of its own (created on PORTAL_BENCH_POSTGRES, default
postgresql://postgres@127.0.0.1:5432, and dropped at the end unless
--keep), it builds two copies of `access_events` with the model's columns
and indexes and the same rows: `plain_events`, one table as the portal has
it, and `hashed_events`, PARTITION BY HASH (subject_id) into --partitions
partitions. The rows are generated inside PostgreSQL (INSERT ... SELECT over
generate_series) in the order a live portal writes them: occurred_at and
log_index rise together over --days, each event names a random one of
--subjects subjects (a registry's sparse shape: ten events each by default),
institutions are skewed (a few large banks ask most), the sealed detail is
120-340 bytes (the demo's events measure 123-331). Subjects, institutions and
users are one-column tables the foreign keys point at.

Then, side by side in one run, alternating which table goes first, with
medians over --rounds rounds and the ratio partitioned / plain (below 1:
the partitioned table is faster or smaller; for rows/s, above 1 is faster):

(a) a subject's own page: its newest 50 events, many random subjects, with
    prepared (generic) plans and again with plan_cache_mode =
    force_custom_plan; and one event by id, without and with its subject
    (without it, every partition is probed);
(b) what monitoring and oversight read: one institution's queries over 30
    days, a whole day grouped by institution, a day grouped by subject
    (count of distinct institutions), and the workers' cursor (the next
    1,000 events after a log index);
(c) single-row inserts, each in its own committed transaction, from
    --writers concurrent connections, as the request path writes them (log
    index still empty); then the integrator's UPDATE that gives 2,000 events
    their log index (executemany by id, as portal/audit/integrator.py issues
    it; on the partitioned table also by id and subject, and that again
    with custom plans);
(d) table and index sizes, bytes per row;
(e) deleting one subject's events, and a VACUUM of the whole table and of
    one partition.

Psycopg prepares a statement after its fifth run, as under the portal, so
the timings are those of prepared (generic) plans unless a row says custom
plans. log_index is bigint here, as it must become (the model's is integer).
"Load rows" of the plain table includes generating them; the partitioned
copy is an INSERT ... SELECT from it. Autovacuum is off on both
tables while it runs, so neither is vacuumed in the middle of a measurement.
With hash partitioning a unique constraint must include subject_id: the
partitioned copy has PRIMARY KEY (id, subject_id) and UNIQUE (log_index,
subject_id), which no longer stop one log index being given to two events
of different subjects (see docs/scaling.md).

The default (10 million events, one million subjects) needs about 12 GB of
disk and ran for about seven minutes on two cores; --quick (one million
events, 100,000 subjects, fewer samples) about one minute.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import psycopg

PG = os.environ.get("PORTAL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
TABLES = ("plain_events", "hashed_events")
LOAD_BATCH = 1_000_000
INTEGRATOR_BATCH = 2000  # portal/audit/integrator.py's BATCH

COLUMNS = """
    id uuid NOT NULL,
    subject_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind varchar(32) NOT NULL,
    outcome varchar(8) NOT NULL,
    purpose varchar(32),
    channel varchar(16) NOT NULL,
    actor_user_id uuid,
    institution_id uuid,
    basis varchar(40),
    detail_ct bytea NOT NULL,
    log_index bigint
"""
# The model's secondary indexes (migrations 0002, 0018), on both tables.
INDEXES = {
    "actor_user_id": "(actor_user_id)",
    "institution_id": "(institution_id)",
    "subject_id_occurred_at": "(subject_id, occurred_at)",
    "institution_id_occurred_at": "(institution_id, occurred_at)",
    "occurred_at": "(occurred_at)",
}
KINDS = (
    "ARRAY['institution_query','institution_query','institution_query','institution_query','institution_query',"
    "'institution_query','self_query','self_query','record_furnished','record_furnished','consent_granted',"
    "'case_viewed','export','dispute_step']"
)
PURPOSES = "ARRAY['loan_approval','credit_card_approval','post_loan_management','guarantee_review']"
REFUSALS = "ARRAY['consent_required','consent_expired','file_locked','no_existing_contract','purpose_not_allowed']"
SERVED = "ARRAY['consent','written_authorisation','existing_contract']"


def subject_id(k: int) -> uuid.UUID:
    """The k-th generated subject, as SQL's md5('subject-' || k)::uuid makes it."""
    return uuid.UUID(hashlib.md5(f"subject-{k}".encode(), usedforsecurity=False).hexdigest())


def institution_id(k: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"institution-{k}".encode(), usedforsecurity=False).hexdigest())


def pick(array: str) -> str:
    return f"({array})[1 + floor(random() * array_length({array}, 1))::int]"


class Bench:
    def __init__(self, args: argparse.Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)
        self.rng = random.Random(args.seed)
        self.rows: list[tuple[str, str, str, str]] = []  # measurement, plain, partitioned, ratio
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=args.days)
        self.next_log_index = args.events
        self.index_sizes: list[tuple[str, float]] = []

    # -- building ------------------------------------------------------------------------
    def sql(self, statement: str, params: Sequence[object] | dict[str, object] | None = None) -> float:
        began = time.perf_counter()
        self.conn.execute(statement.encode(), params)
        return time.perf_counter() - began

    def build(self) -> None:
        a = self.args
        self.sql("SET maintenance_work_mem = '1GB'")
        for table in ("subjects", "institutions", "users"):
            self.sql(f"CREATE TABLE {table} (id uuid PRIMARY KEY)")
        self.sql("INSERT INTO subjects SELECT md5('subject-' || k)::uuid FROM generate_series(1, %s) k", (a.subjects,))
        self.sql(
            "INSERT INTO institutions SELECT md5('institution-' || k)::uuid FROM generate_series(0, %s) k",
            (a.institutions,),
        )
        self.sql("INSERT INTO users SELECT md5('staff-' || k)::uuid FROM generate_series(0, 199) k")
        self.sql(f"CREATE TABLE plain_events ({COLUMNS}) WITH (autovacuum_enabled = off)")
        self.sql(f"CREATE TABLE hashed_events ({COLUMNS}) PARTITION BY HASH (subject_id)")
        for i in range(a.partitions):
            self.sql(
                f"CREATE TABLE hashed_events_p{i} PARTITION OF hashed_events "
                f"FOR VALUES WITH (MODULUS {a.partitions}, REMAINDER {i}) WITH (autovacuum_enabled = off)"
            )
        took = 0.0
        for first in range(0, a.events, LOAD_BATCH):
            took += self.sql(self.generate_sql(), (first, min(a.events, first + LOAD_BATCH) - 1))
            print(f"  {min(a.events, first + LOAD_BATCH):,} events generated", flush=True)
        timings = {"load rows": [took]}
        timings["load rows"].append(self.sql("INSERT INTO hashed_events SELECT * FROM plain_events"))
        for key, table in enumerate(TABLES):
            unique = "id" if table == "plain_events" else "id, subject_id"
            log_unique = "log_index" if table == "plain_events" else "log_index, subject_id"
            steps = {
                "primary key, unique log index": [
                    f"ALTER TABLE {table} ADD PRIMARY KEY ({unique})",
                    f"ALTER TABLE {table} ADD UNIQUE ({log_unique})",
                ],
                "five secondary indexes": [
                    f"CREATE INDEX {table}_{name} ON {table} {columns}" for name, columns in INDEXES.items()
                ],
                "three foreign keys (validated)": [
                    f"ALTER TABLE {table} ADD FOREIGN KEY (subject_id) REFERENCES subjects",
                    f"ALTER TABLE {table} ADD FOREIGN KEY (institution_id) REFERENCES institutions",
                    f"ALTER TABLE {table} ADD FOREIGN KEY (actor_user_id) REFERENCES users",
                ],
                "VACUUM ANALYZE": [f"VACUUM ANALYZE {table}"],
            }
            for step, statements in steps.items():
                timings.setdefault(step, [0.0, 0.0])[key] = sum(self.sql(s) for s in statements)
            print(f"  {table} indexed and vacuumed", flush=True)
        for step, (plain, hashed) in timings.items():
            self.row(f"build: {step} (s)", plain, hashed, 1)

    def generate_sql(self) -> str:
        a = self.args
        span = a.days * 86400.0
        # occurred_at rises with the log index (jitter under a second): the
        # order a live portal writes in, which the day and cursor reads rely on.
        return f"""
            INSERT INTO plain_events
            SELECT gen_random_uuid(), md5('subject-' || (1 + floor(random() * {a.subjects})::int))::uuid,
                   '{self.start.isoformat()}'::timestamptz + (g * {span / a.events} + random()) * interval '1 second',
                   e.kind,
                   CASE WHEN e.kind = 'institution_query' AND e.r < 0.08 THEN 'refused' ELSE 'served' END,
                   CASE WHEN e.kind = 'institution_query' THEN {pick(PURPOSES)} END,
                   CASE WHEN e.kind = 'case_viewed' THEN 'staff' WHEN e.kind = 'institution_query'
                        OR e.kind = 'record_furnished' THEN 'api' ELSE 'web' END,
                   CASE WHEN e.kind = 'case_viewed' THEN md5('staff-' || floor(random() * 200)::int)::uuid END,
                   CASE WHEN e.kind IN ('institution_query', 'record_furnished')
                        THEN md5('institution-' || floor(power(random(), 3) * {a.institutions})::int)::uuid END,
                   CASE WHEN e.kind <> 'institution_query' THEN NULL
                        WHEN e.r < 0.08 THEN {pick(REFUSALS)} ELSE {pick(SERVED)} END,
                   substr(decode(repeat(md5(g::text), 22), 'hex'), 1, 120 + floor(random() * 221)::int),
                   g
            FROM (SELECT g, {pick(KINDS)} AS kind, random() AS r FROM generate_series(%s::bigint, %s) g) e
        """

    # -- measuring -----------------------------------------------------------------------
    def row(self, name: str, plain: float, hashed: float, decimals: int = 2) -> None:
        ratio = f"{hashed / plain:.2f}" if plain else "-"
        self.rows.append((name, f"{plain:,.{decimals}f}", f"{hashed:,.{decimals}f}", ratio))

    def timed(self, statement: str, params_list: Sequence[Sequence[object]]) -> list[float]:
        """Each statement's time in ms (fetching its rows)."""
        out = []
        for params in params_list:
            began = time.perf_counter()
            self.conn.execute(statement.encode(), params).fetchall()
            out.append((time.perf_counter() - began) * 1e3)
        return out

    def compare(
        self, name: str, statements: tuple[str, str], samples: Callable[[], list[Sequence[object]]], rounds: int
    ) -> None:
        """Median ms per statement, over rounds of the same samples on both
        tables; which goes first alternates."""
        medians: tuple[list[float], list[float]] = ([], [])
        for r in range(rounds):
            params = samples()
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for side in order:
                medians[side].append(statistics.median(self.timed(statements[side], params)))
        self.row(f"{name} (ms)", statistics.median(medians[0]), statistics.median(medians[1]), 3)

    def random_subjects(self, n: int) -> list[Sequence[object]]:
        return [(subject_id(1 + self.rng.randrange(self.args.subjects)),) for _ in range(n)]

    def day(self) -> datetime:
        return self.start + timedelta(days=self.rng.randrange(max(1, self.args.days - 1)))

    def reads(self) -> None:
        a, n = self.args, self.args.samples
        page = "SELECT * FROM {} WHERE subject_id = %s ORDER BY occurred_at DESC LIMIT 50"
        self.compare(
            "(a) a subject's newest 50 events", (page.format(TABLES[0]), page.format(TABLES[1])),
            lambda: self.random_subjects(n), a.rounds,
        )  # fmt: skip
        # Generic plans of a partitioned table lock every partition and its
        # indexes at each execution (PostgreSQL 15); custom plans prune first.
        self.sql("SET plan_cache_mode = force_custom_plan")
        self.compare(
            "(a) ... the same, custom plans", (page.format(TABLES[0]), page.format(TABLES[1])),
            lambda: self.random_subjects(n), a.rounds,
        )  # fmt: skip
        self.sql("RESET plan_cache_mode")
        sample = self.conn.execute(
            "SELECT id, subject_id FROM plain_events TABLESAMPLE SYSTEM (%s) LIMIT %s",
            (min(100.0, 500.0 * n / a.events), n * a.rounds),
        ).fetchall()
        by_id = "SELECT * FROM {} WHERE id = %s"
        self.compare(
            "(a) one event by id alone",
            (by_id.format(TABLES[0]), by_id.format(TABLES[1])),
            lambda: [(i,) for i, _s in self.rng.sample(sample, min(n, len(sample)))],
            a.rounds,
        )
        both = "SELECT * FROM {} WHERE id = %s AND subject_id = %s"
        self.compare(
            "(a) one event by id and subject",
            (both.format(TABLES[0]), both.format(TABLES[1])),
            lambda: self.rng.sample(sample, min(n, len(sample))),
            a.rounds,
        )
        period = (
            "SELECT count(*) FROM {} WHERE kind = 'institution_query' AND institution_id = %s "
            "AND occurred_at >= %s AND occurred_at < %s"
        )

        def windows() -> list[Sequence[object]]:
            out: list[Sequence[object]] = []
            for _ in range(max(1, n // 10)):
                # the institutions' skew: a few large ones ask most, as generated
                k = int(self.rng.random() ** 3 * a.institutions)
                start = self.start + timedelta(days=self.rng.uniform(0, max(0, a.days - 30)))
                out.append((institution_id(k), start, start + timedelta(days=30)))
            return out

        self.compare(
            "(b) one institution's queries, 30 days", (period.format(TABLES[0]), period.format(TABLES[1])),
            windows, a.rounds,
        )  # fmt: skip
        days = max(1, a.rounds // 2)
        by_institution = (
            "SELECT institution_id, count(*), count(*) FILTER (WHERE outcome = 'refused') FROM {} "
            "WHERE kind = 'institution_query' AND institution_id IS NOT NULL "
            "AND occurred_at >= %s AND occurred_at < %s GROUP BY institution_id"
        )

        def one_day() -> list[Sequence[object]]:
            d = self.day()
            return [(d, d + timedelta(days=1))]

        self.compare(
            "(b) a day grouped by institution",
            (by_institution.format(TABLES[0]), by_institution.format(TABLES[1])),
            one_day,
            max(3, days),
        )
        by_subject = (
            "SELECT subject_id, count(DISTINCT institution_id) FROM {} "
            "WHERE kind = 'institution_query' AND institution_id IS NOT NULL "
            "AND occurred_at >= %s AND occurred_at < %s GROUP BY subject_id "
            "HAVING count(DISTINCT institution_id) >= 4"
        )
        self.compare(
            "(b) a day grouped by subject",
            (by_subject.format(TABLES[0]), by_subject.format(TABLES[1])),
            one_day,
            max(3, days),
        )
        cursor = "SELECT log_index, occurred_at FROM {} WHERE log_index > %s ORDER BY log_index LIMIT 1000"
        self.compare(
            "(b) the workers' cursor: next 1,000",
            (cursor.format(TABLES[0]), cursor.format(TABLES[1])),
            lambda: [(self.rng.randrange(a.events),) for _ in range(max(5, n // 20))],
            a.rounds,
        )

    def inserts(self) -> None:
        a = self.args
        per_round: tuple[list[float], list[float]] = ([], [])
        latencies: tuple[list[float], list[float]] = ([], [])
        for r in range(a.insert_rounds):
            for side in (0, 1) if r % 2 == 0 else (1, 0):
                done, lat = self.insert_run(TABLES[side], a.writers, a.insert_seconds)
                per_round[side].append(done / a.insert_seconds)
                latencies[side].extend(lat)
        self.row(
            f"(c) single-row inserts, {a.writers} connections (rows/s)",
            statistics.median(per_round[0]),
            statistics.median(per_round[1]),
            0,
        )
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            self.row(f"(c) insert + commit {label} (ms)", quantile(latencies[0], q), quantile(latencies[1], q), 3)

    def insert_run(self, table: str, writers: int, seconds: float) -> tuple[int, list[float]]:
        statement = (
            f"INSERT INTO {table} (id, subject_id, occurred_at, kind, outcome, purpose, channel, institution_id, "
            "basis, detail_ct) VALUES (%s, %s, %s, 'institution_query', 'served', 'loan_approval', 'api', %s, "
            "'consent', %s)"
        ).encode()
        counts = [0] * writers
        lat: list[list[float]] = [[] for _ in range(writers)]
        barrier = threading.Barrier(writers + 1)
        deadline = [0.0]

        def writer(n: int) -> None:
            rng = random.Random(self.args.seed * 1000 + n)
            with psycopg.connect(self.url) as conn:
                barrier.wait()
                while time.perf_counter() < deadline[0]:
                    params = (
                        uuid.uuid4(),
                        subject_id(1 + rng.randrange(self.args.subjects)),
                        datetime.now(UTC),
                        institution_id(int(rng.random() ** 3 * self.args.institutions)),
                        rng.randbytes(120 + rng.randrange(221)),
                    )
                    began = time.perf_counter()
                    conn.execute(statement, params)
                    conn.commit()
                    lat[n].append((time.perf_counter() - began) * 1e3)
                    counts[n] += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        deadline[0] = time.perf_counter() + seconds
        barrier.wait()
        for t in threads:
            t.join()
        return sum(counts), [x for xs in lat for x in xs]

    def integrator(self) -> None:
        """The integrator's UPDATE of a batch's log indexes, on events
        written with none (copied from random existing ones, the same on
        both tables)."""
        a = self.args
        # (table, key, plan_cache_mode): the last one plans every statement
        # with its values, so partitions are pruned when planned
        variants = (
            ("plain_events", "id", "auto"),
            ("hashed_events", "id", "auto"),
            ("hashed_events", "id+subject", "auto"),
            ("hashed_events", "id+subject", "force_custom_plan"),
        )
        need = INTEGRATOR_BATCH * a.integrator_batches
        percent = min(100.0, 300.0 * need * len(variants) / a.events)
        self.sql(  # CREATE TABLE AS takes no parameters: two numbers of ours
            "CREATE TABLE fresh AS SELECT gen_random_uuid() AS id, subject_id, kind, outcome, purpose, channel, "
            f"actor_user_id, institution_id, basis, detail_ct FROM plain_events TABLESAMPLE SYSTEM ({percent:.4f}) "
            f"LIMIT {need * len(variants)}"
        )
        have = self.conn.execute("SELECT count(*) FROM fresh").fetchone()
        if have is None or have[0] < need * len(variants):
            raise SystemExit("too few events to sample the integrator's batches from: raise --events")
        for table in TABLES:
            self.sql(
                f"INSERT INTO {table} (id, subject_id, occurred_at, kind, outcome, purpose, channel, actor_user_id, "
                "institution_id, basis, detail_ct) SELECT id, subject_id, now(), kind, outcome, purpose, channel, "
                "actor_user_id, institution_id, basis, detail_ct FROM fresh"
            )
        rows = self.conn.execute("SELECT id, subject_id FROM fresh ORDER BY id").fetchall()
        batches: dict[tuple[str, str, str], list[float]] = {v: [] for v in variants}
        with psycopg.connect(self.url) as conn:
            for b in range(a.integrator_batches):
                # interleaved: each batch of each variant in turn, each on rows of its own
                for v_no, (table, key, mode) in enumerate(variants):
                    conn.execute(f"SET plan_cache_mode = {mode}".encode())
                    start = (v_no * a.integrator_batches + b) * INTEGRATOR_BATCH
                    chunk = rows[start : start + INTEGRATOR_BATCH]
                    params: list[tuple[object, ...]]
                    if key == "id":
                        statement = f"UPDATE {table} SET log_index = %s WHERE id = %s"
                        params = [(self.next_log_index + i, r[0]) for i, r in enumerate(chunk)]
                    else:
                        statement = f"UPDATE {table} SET log_index = %s WHERE id = %s AND subject_id = %s"
                        params = [(self.next_log_index + i, r[0], r[1]) for i, r in enumerate(chunk)]
                    self.next_log_index += len(chunk)
                    began = time.perf_counter()
                    with conn.cursor() as cur:
                        cur.executemany(statement.encode(), params)
                    conn.commit()
                    batches[(table, key, mode)].append((time.perf_counter() - began) * 1e3)
        plain = statistics.median(batches[variants[0]])
        self.row("(c) integrator: 2,000 log indexes by id (ms)", plain, statistics.median(batches[variants[1]]), 1)
        self.row("(c) ... partitioned by id and subject (ms)", plain, statistics.median(batches[variants[2]]), 1)
        self.row("(c) ... by id and subject, custom plans (ms)", plain, statistics.median(batches[variants[3]]), 1)
        self.sql("DROP TABLE fresh")

    def sizes(self) -> None:
        events = self.args.events
        totals = []
        for table in TABLES:
            parts = (
                "SELECT relid FROM pg_partition_tree(%s::regclass) WHERE isleaf"
                if table == "hashed_events"
                else "SELECT %s::regclass"
            )
            heap, indexes = self.conn.execute(
                "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid)) "
                f"FROM ({parts}) p(relid)",  # pg_table_size includes TOAST
                (table,),
            ).fetchone() or (0, 0)
            totals.append((int(heap), int(indexes)))
        mb = 1024 * 1024
        (ph, pi), (hh, hi) = totals
        self.row("(d) table (MB)", ph / mb, hh / mb, 0)
        self.row("(d) its 7 indexes (MB)", pi / mb, hi / mb, 0)
        self.row("(d) bytes per event, table + indexes", (ph + pi) / events, (hh + hi) / events, 0)
        per_index = self.conn.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'plain_events'::regclass ORDER BY 2 DESC"
        ).fetchall()
        self.index_sizes = [(name, size / events) for name, size in per_index]

    def maintenance(self) -> None:
        a = self.args
        gone = self.random_subjects(max(20, a.samples // 10))
        took: tuple[list[float], list[float]] = ([], [])
        with psycopg.connect(self.url) as conn:
            for i, (sid,) in enumerate(gone):
                for side in (0, 1) if i % 2 == 0 else (1, 0):
                    began = time.perf_counter()
                    conn.execute(f"DELETE FROM {TABLES[side]} WHERE subject_id = %s".encode(), (sid,))
                    conn.commit()
                    took[side].append((time.perf_counter() - began) * 1e3)
        self.row("(e) delete one subject's events (ms)", statistics.median(took[0]), statistics.median(took[1]), 3)
        plain = self.sql("VACUUM plain_events")
        # partition by partition: the whole table's time is their sum
        parts = [self.sql(f"VACUUM hashed_events_p{i}") for i in range(a.partitions)]
        self.row("(e) VACUUM of the whole table (s)", plain, sum(parts), 2)
        self.row("(e) VACUUM of one partition, median (s)", plain, statistics.median(parts), 2)

    def report(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        print(f"\n{'measurement':<{width}}  {'plain':>12}  {'partitioned':>12}  {'part/plain':>10}")
        for name, plain, hashed, ratio in self.rows:
            print(f"{name:<{width}}  {plain:>12}  {hashed:>12}  {ratio:>10}")
        print("\nbytes per event of each index of the plain table:")
        for name, per in self.index_sizes:
            print(f"  {name:<48} {per:6.1f}")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--institutions", type=int, default=2000)
    parser.add_argument("--days", type=int, default=100, help="the period the events span")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000, help="subjects (and events) per round")
    parser.add_argument("--writers", type=int, default=4, help="concurrent inserting connections")
    parser.add_argument("--insert-seconds", type=float, default=8.0, help="per table and round")
    parser.add_argument("--insert-rounds", type=int, default=3)
    parser.add_argument("--integrator-batches", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1M events, 100k subjects, fewer samples: ~1 minute")
    parser.add_argument("--keep", action="store_true", help="leave the database for a look afterwards")
    args = parser.parse_args()
    if args.quick:
        args.events, args.subjects, args.samples, args.rounds = 1_000_000, 100_000, 500, 3
        args.insert_seconds, args.insert_rounds, args.integrator_batches = 4.0, 2, 3
    if min(args.events, args.subjects, args.institutions, args.days, args.rounds, args.samples, args.writers) < 1:
        parser.error("every count must be positive")
    if not 2 <= args.partitions <= 1024:
        parser.error("--partitions must be between 2 and 1024")

    database = f"portal_partitioning_{os.getpid()}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {database}".encode())
    began = time.perf_counter()
    try:
        bench = Bench(args, f"{PG}/{database}")
        print(
            f"building {args.events:,} events over {args.subjects:,} subjects and {args.days} days, twice "
            f"(plain, and {args.partitions} hash partitions) in {database} ...",
            flush=True,
        )
        bench.build()
        bench.sizes()
        print("reading ...", flush=True)
        bench.reads()
        print("writing ...", flush=True)
        bench.inserts()
        bench.integrator()
        bench.maintenance()
        bench.report()
        print(f"\n{time.perf_counter() - began:.0f} s in all", flush=True)
        bench.conn.close()
    finally:
        if args.keep:
            print(f"kept: {PG}/{database}", file=sys.stderr)
        else:
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)".encode())


if __name__ == "__main__":
    main()
