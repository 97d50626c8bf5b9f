"""Engine, sessions and the declarative base. Free of Flask: the app factory
binds a `Database` to requests, the CLI to commands."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Enum, Insert, Integer, MetaData, Table, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator):
    """Timestamps stored in UTC and read back timezone-aware on every
    database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use portal.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# A position or size in the transparency log: 64-bit (a registry appends
# billions of leaves; 32 bits run out within a year). SQLite's INTEGER is 64
# bits already, and its primary keys must be spelt INTEGER.
LOG_INDEX = BigInteger().with_variant(Integer, "sqlite")


def str_enum(cls: type[enum.Enum], length: int = 32) -> Enum:
    """A portable enum column holding the members' values, not their names."""
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def make_engine(url: str, **kwargs: Any) -> Engine:
    sqlite = url.startswith("sqlite")
    if sqlite:
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint_writes)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_savepoint_writes(conn: Connection, _name: str) -> None:
    """pysqlite emits BEGIN only before a transaction's first write (see
    transparency/log.py), but a SAVEPOINT outside a transaction starts a
    deferred one: its reads then hold a snapshot, and its first write fails
    at once ("database is locked") if another connection committed since.
    A savepoint that opens the transaction takes the write lock first,
    waiting on the busy timeout like any first write."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        dbapi.execute("BEGIN IMMEDIATE")


# In `Session.info`: the unit of work records a refused attempt that must
# stay recorded although the request is answered with a refusal (4xx).
KEEP_REFUSED = "portal.keep_refused"


def insert_unless_present(session: Session, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT a row, or nothing when one with the same `keys` exists (also
    when a concurrent transaction is inserting it: this waits for that one)."""
    dialect = session.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - the portal runs on SQLite and PostgreSQL
        raise RuntimeError(f"no race-safe insert for {dialect}")
    session.execute(stmt)


def keep_refused_attempt(session: Session) -> None:
    """Mark what this unit of work wrote as the deliberate record of a
    refused attempt (a report query refused for want of a basis, which the
    subject must see): a request answered with a 4xx commits it. Without
    this mark, a 4xx writes nothing."""
    session.info[KEEP_REFUSED] = True


class Database:
    """One engine and a scoped session: one session per request or command,
    committed once by whoever owns the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.session = scoped_session(sessionmaker(self.engine, expire_on_commit=False))

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


__all__ = [
    "KEEP_REFUSED",
    "Base",
    "Database",
    "Session",
    "UTCDateTime",
    "keep_refused_attempt",
    "make_engine",
    "new_id",
    "str_enum",
    "utcnow",
]
