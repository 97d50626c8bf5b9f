"""A consistent copy of the database and its loading into an empty one.

SQLite: the online backup API into a file. PostgreSQL: `pg_dump
--format=custom` inside a snapshot exported from a repeatable-read
transaction, which also reads the manifest's facts (schema revision, the
log's newest checkpoint), so they describe exactly what was dumped; restored
by `pg_restore` in one transaction. The connection parameters go to pg_dump
and pg_restore as libpq environment variables, never on a command line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

# libpq's own environment variables for the URL query parameters it knows.
_LIBPQ_QUERY = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "options": "PGOPTIONS",
}
_FACTS = {
    "alembic_head": "SELECT version_num FROM alembic_version ORDER BY version_num",
    "checkpoint": "SELECT size, root FROM checkpoints ORDER BY size DESC LIMIT 1",
}


class SnapshotError(Exception):
    """The database cannot be copied or loaded; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    dialect: str
    facts: dict[str, Any]  # for the manifest


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise SnapshotError("the database is in memory: nothing to back up or restore into")
    return Path(url.database)


def pg_environment(url: URL) -> dict[str, str]:
    """The environment that points pg_dump/pg_restore at `url` (its password
    included), built on ours without any PG* setting of our own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for value, name in (
        (url.host, "PGHOST"),
        (url.port, "PGPORT"),
        (url.username, "PGUSER"),
        (url.password, "PGPASSWORD"),
        (url.database, "PGDATABASE"),
    ):
        if value is not None:
            env[name] = str(value)
    for key, given in url.query.items():
        if key not in _LIBPQ_QUERY:
            raise SnapshotError(f"the database URL's parameter {key!r} is not one pg_dump can be given")
        env[_LIBPQ_QUERY[key]] = given if isinstance(given, str) else given[-1]
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SnapshotError(f"{name} is not on PATH: install the PostgreSQL client tools (e.g. postgresql-client)")
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # fixed tool, no shell
    if done.returncode != 0:
        # libpq's messages name hosts and roles, never the password we passed.
        raise SnapshotError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.returncode}")


def _facts(rows: dict[str, list[Any]]) -> dict[str, Any]:
    checkpoint = rows["checkpoint"][0] if rows["checkpoint"] else None
    return {
        "alembic_head": [r[0] for r in rows["alembic_head"]],
        "log_size": checkpoint[0] if checkpoint else 0,
        "log_root": bytes(checkpoint[1]).hex() if checkpoint else None,
    }


def take(engine: Engine, folder: Path) -> Snapshot:
    """Copy the database into `folder` (private, the caller's to delete)."""
    if engine.dialect.name == "sqlite":
        path = folder / "portal.sqlite3"
        source = sqlite_path(engine.url)
        if not source.exists():
            raise SnapshotError(f"there is no database at {source}")
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(path)
        try:
            src.backup(dst)
            # The copy itself answers: it is what was snapshotted.
            rows = {name: dst.execute(sql).fetchall() for name, sql in _FACTS.items()}
        except sqlite3.Error as exc:
            raise SnapshotError(f"cannot copy the SQLite database: {exc}") from None
        finally:
            src.close()
            dst.close()
        return Snapshot(path, "sqlite", _facts(rows))
    if engine.dialect.name == "postgresql":
        pg_dump = _tool("pg_dump")
        path = folder / "portal.pgdump"
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            rows = {name: list(conn.execute(text(sql))) for name, sql in _FACTS.items()}
            # The transaction stays open while pg_dump reads its snapshot.
            args = [pg_dump, "--format=custom", f"--snapshot={snapshot_id}", f"--file={path}"]
            _run(args, pg_environment(engine.url))
        return Snapshot(path, "postgresql", _facts(rows))
    raise SnapshotError(f"cannot back up a {engine.dialect.name} database")


def tables_with_rows(engine: Engine) -> list[str]:
    """The restore target's tables that hold any row (empty means none).
    A SQLite file not there yet is empty, and is not created by asking."""
    if engine.dialect.name == "sqlite" and not sqlite_path(engine.url).exists():
        return []
    names = inspect(engine).get_table_names()
    with engine.connect() as conn:
        preparer = engine.dialect.identifier_preparer
        return [n for n in names if conn.execute(text(f"SELECT 1 FROM {preparer.quote(n)} LIMIT 1")).first()]  # noqa: S608  # quoted names of existing tables


def _sqlite_files(target: Path) -> list[Path]:
    return [target, *(target.with_name(target.name + s) for s in ("-wal", "-shm", "-journal"))]


def install_sqlite(engine: Engine, copy: Path) -> Path:
    """Put the restored SQLite file in place of the (empty) target with one
    rename."""
    target = sqlite_path(engine.url)
    engine.dispose()  # no connection may keep the old file or its WAL index open
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(copy, staged)
    os.chmod(staged, 0o600)
    for p in _sqlite_files(target):  # an empty database's journal must not be applied to the restored file
        p.unlink(missing_ok=True)
    os.replace(staged, target)
    return target


def remove_sqlite(engine: Engine) -> None:
    """Undo install_sqlite: the target has no database again."""
    engine.dispose()
    for p in _sqlite_files(sqlite_path(engine.url)):
        p.unlink(missing_ok=True)


def pg_restore(engine: Engine, dump: Path) -> None:
    """Load a dump into the (empty) target in one transaction: on failure
    nothing of it stays. Empty tables already there are replaced."""
    args = [
        _tool("pg_restore"),
        "--no-owner",
        "--no-acl",
        "--single-transaction",
        "--exit-on-error",
        "--clean",
        "--if-exists",
        f"--dbname={engine.url.database}",
        str(dump),
    ]
    engine.dispose()
    _run(args, pg_environment(engine.url))
