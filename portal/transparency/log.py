"""The log in the database. Every function takes the caller's session and
flushes, never commits: an append belongs to the transaction of the action
it records, and vanishes with it on rollback.

Sequencing: `append` first runs UPDATE log_head SET size = size + 1, which
takes the head's row lock on PostgreSQL and the database write lock on
SQLite, held until the transaction ends. Two writers therefore get
consecutive sizes, never the same one (no fork) and never a skipped one (no
gap), and the second one waits for the first to commit or roll back.

SQLite: the portal keeps pysqlite's default ("legacy") transaction control,
which emits BEGIN just before a transaction's first INSERT/UPDATE/DELETE and
runs earlier SELECTs outside any transaction. So a transaction never holds a
read snapshot when it first writes, and its first write waits on the busy
timeout for the write lock instead of failing with SQLITE_BUSY_SNAPSHOT (the
"read, then write" failure of deferred transactions). Everything after the
first write runs under the write lock. tests/transparency checks this with
two processes appending at once.

Reads (`size`, `root`, proofs) need no snapshot: leaves and complete
subtrees below a committed size never change, and each is one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import Insert, Select, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from portal.db import Base, utcnow
from portal.transparency import merkle
from portal.transparency.models import LogHead, LogLeaf, LogNode

HEAD_ID = 1


def _table(model: type[Base]) -> Table:
    # Declarative classes map a Table; SQLAlchemy types `__table__` as any FromClause.
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


_head, _leaves, _nodes = _table(LogHead), _table(LogLeaf), _table(LogNode)

# Built once: Core statements on the tables (no ORM bookkeeping per append).
_BUMP = update(_head).where(_head.c.id == HEAD_ID).values(size=_head.c.size + bindparam("by")).returning(_head.c.size)
_SIZE = select(_head.c.size).where(_head.c.id == HEAD_ID)


@lru_cache(maxsize=256)
def _nodes_query(count: int) -> Select[int, int, bytes]:
    """SELECT of `count` subtrees by primary key, built once per count. An
    OR of key equalities, not (level, index) IN (VALUES ...): SQLite answers
    the latter with a scan of the whole table."""
    return select(_nodes.c.level, _nodes.c.index, _nodes.c.hash).where(
        or_(*(and_(_nodes.c.level == bindparam(f"l{i}"), _nodes.c.index == bindparam(f"i{i}")) for i in range(count)))
    )


def _bump(session: Session, by: int) -> int:
    """Add `by` to the head's size under its lock; return the new size."""
    new: int | None = session.execute(_BUMP, {"by": by}).scalar()
    if new is None:  # the very first append: create the head, race-safely
        _create_head(session)
        new = session.execute(_BUMP, {"by": by}).scalar_one()
    return new


def _create_head(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    # A concurrent creator makes this wait for it, then do nothing.
    stmt: Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(_head).values(id=HEAD_ID, size=0).on_conflict_do_nothing(index_elements=["id"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(_head).values(id=HEAD_ID, size=0).on_conflict_do_nothing(index_elements=["id"])
    else:  # pragma: no cover - the portal runs on SQLite and PostgreSQL
        raise RuntimeError(f"no race-safe head creation for {dialect}")
    session.execute(stmt)


def lock_head(session: Session) -> int:
    """Take the append lock without appending; return the size under it."""
    return _bump(session, 0)


def append(session: Session, d: bytes) -> int:
    """Append leaf data `d` (stored as its leaf hash); return its index."""
    index = _bump(session, 1) - 1
    h = merkle.leaf_hash(d)
    session.execute(_leaves.insert(), {"index": index, "leaf_hash": h, "appended_at": utcnow()})
    # The leaf completes one subtree per trailing 1-bit of its index: at
    # each such level, hash with the left sibling (all fetched in one query).
    levels = (~index & (index + 1)).bit_length() - 1  # trailing ones of index
    siblings = _fetch(session, [(k, (index >> k) - 1) for k in range(levels)])
    rows = [{"level": 0, "index": index, "hash": h}]
    for k in range(levels):
        h = merkle.node_hash(siblings[(k, (index >> k) - 1)], h)
        rows.append({"level": k + 1, "index": index >> (k + 1), "hash": h})
    session.execute(_nodes.insert(), rows)
    return index


def size(session: Session) -> int:
    return session.execute(_SIZE).scalar() or 0


def _fetch(session: Session, wanted: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """Stored complete-subtree hashes by (level, index), in one query."""
    wanted = set(wanted)
    if not wanted:
        return {}
    params = {}
    for i, (level, index) in enumerate(sorted(wanted)):
        params[f"l{i}"], params[f"i{i}"] = level, index
    rows = session.execute(_nodes_query(len(wanted)), params)
    found = {(level, index): h for level, index, h in rows}
    if missing := wanted - found.keys():
        raise LookupError(f"the log is damaged: stored subtree(s) {sorted(missing)[:3]} missing")
    return found


def _ranges_hashes(
    session: Session, ranges: list[merkle.Range], tree_size: int, what: str, also: tuple[merkle.Node, ...] = ()
) -> list[bytes]:
    """The MTH of each range, in one query when the size is in range: a size
    beyond the log needs a subtree that does not exist, and only then is the
    head read, to tell a bad request from a damaged log. `also`: nodes that
    must exist too."""
    try:
        nodes = _fetch(session, [*also, *(n for a, b in ranges for n in merkle.subtrees(a, b))])
    except LookupError:
        if tree_size > (current := size(session)):
            raise ValueError(f"{what} {tree_size} is out of range: the log has {current} leaves") from None
        raise
    return merkle.hash_ranges(ranges, nodes)


def _natural(what: str, n: object) -> int:
    # Below 2**62, so it (and its neighbours) fits every database's integers.
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 1 << 62:
        raise ValueError(f"{what} must be a non-negative integer below 2**62, not {n!r}")
    return n


def root(session: Session, tree_size: int) -> bytes:
    """The root of the first `tree_size` leaves (one query)."""
    if _natural("size", tree_size) == 0:
        return merkle.EMPTY_ROOT
    return _ranges_hashes(session, [(0, tree_size)], tree_size, "size")[0]


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `tree_size` leaves (one query)."""
    if not _natural("index", index) < _natural("size", tree_size):
        raise ValueError(f"index {index} is out of range for a tree of size {tree_size}")
    # The path covers every leaf but the one proved: ask for that one too.
    return _ranges_hashes(session, merkle.inclusion_ranges(index, tree_size), tree_size, "size", ((0, index),))


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) (one query); empty when first == second."""
    if not 0 < _natural("first", first) <= _natural("second", second):
        raise ValueError(f"first {first} is out of range: it must be between 1 and second ({second})")
    # Ask for the last leaf too, so an empty proof (first == second) still
    # refuses a size beyond the log.
    return _ranges_hashes(session, merkle.consistency_ranges(first, second), second, "second", ((0, second - 1),))
