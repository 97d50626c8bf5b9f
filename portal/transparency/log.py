"""The log in the database. Every function takes the caller's session and
flushes, never commits.

Queue, then sequence (the design of Trillian's sequencer): an action's
transaction only queues its leaf (`enqueue`, one INSERT of a row of its
own), so no request waits for another. The integrator (`integrate`) takes
queued leaves in batches, gives them consecutive indexes, stores the
complete subtrees they finish and removes them from the queue, all in one
transaction; a leaf is in the log exactly once, or still queued.

Sequencing: appending first runs UPDATE log_head SET size = size + n, which
takes the head's row lock on PostgreSQL and the database write lock on
SQLite, held until the transaction ends. Two integrators therefore get
consecutive sizes, never the same one (no fork) and never a skipped one (no
gap), and the second one waits for the first to commit or roll back, then
finds the queue without the leaves the first one took.

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

import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, delete, exists, or_, select, update
from sqlalchemy.orm import QueryableAttribute, Session

from portal.db import Base, insert_unless_present, utcnow
from portal.transparency import merkle
from portal.transparency.models import LogHead, LogLeaf, LogNode, LogQueue

HEAD_ID = 1


def _table(model: type[Base]) -> Table:
    # Declarative classes map a Table; SQLAlchemy types `__table__` as any FromClause.
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


_head, _leaves, _nodes, _queue = _table(LogHead), _table(LogLeaf), _table(LogNode), _table(LogQueue)

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
    # A concurrent creator makes this wait for it, then do nothing.
    insert_unless_present(session, _head, {"id": HEAD_ID, "size": 0}, ["id"])


def lock_head(session: Session) -> int:
    """Take the append lock without appending; return the size under it."""
    return _bump(session, 0)


def append(session: Session, d: bytes) -> int:
    """Append leaf data `d` (stored as its leaf hash); return its index."""
    return append_many(session, [d])


def append_many(session: Session, data: Sequence[bytes]) -> int:
    """Append leaves in order (each stored as its leaf hash); return the
    index of the first. The subtrees they complete are computed in memory;
    the few older ones they need (the left edge) come in one query."""
    if not data:
        raise ValueError("nothing to append")
    first = _bump(session, len(data)) - len(data)
    now = utcnow()
    hashes = [merkle.leaf_hash(d) for d in data]
    session.execute(
        _leaves.insert(),
        [
            {"index": first + i, "leaf_hash": h, "leaf_data": d, "appended_at": now}
            for i, (h, d) in enumerate(zip(hashes, data, strict=True))
        ],
    )
    # Leaf i completes one subtree per trailing 1-bit of i: at level k, its
    # left sibling is (k, (i >> k) - 1), which ends at leaf (i >> k) << k.
    # One that ends before this batch is stored; any other is made here.
    older = {
        (k, ((first + i) >> k) - 1)
        for i in range(len(data))
        for k in range(_trailing_ones(first + i))
        if ((first + i) >> k) << k <= first
    }
    made = _fetch(session, older)
    rows = []
    for i, h in enumerate(hashes):
        index = first + i
        made[(0, index)] = h
        rows.append({"level": 0, "index": index, "hash": h})
        for k in range(_trailing_ones(index)):
            h = merkle.node_hash(made[(k, (index >> k) - 1)], h)
            made[(k + 1, index >> (k + 1))] = h
            rows.append({"level": k + 1, "index": index >> (k + 1), "hash": h})
    session.execute(_nodes.insert(), rows)
    return first


def _trailing_ones(n: int) -> int:
    return (~n & (n + 1)).bit_length() - 1


# -- the queue ------------------------------------------------------------------
def enqueue(session: Session, ref: uuid.UUID, d: bytes) -> None:
    """Queue leaf data `d` for the integrator, under `ref` (unique)."""
    session.execute(_queue.insert(), {"ref": ref, "leaf_data": d, "queued_at": utcnow()})


def queued(session: Session, refs: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `refs` are still waiting for the integrator."""
    wanted = list(refs)
    if not wanted:
        return set()
    return set(session.scalars(select(_queue.c.ref).where(_queue.c.ref.in_(wanted))))


def is_queued(ref: ColumnElement[uuid.UUID] | QueryableAttribute[uuid.UUID]) -> ColumnElement[bool]:
    """Whether `ref` (a column) is still waiting for the integrator: for
    reading it in the statement that lists what it refers to."""
    return exists().where(_queue.c.ref == ref)


def queue_refs(session: Session) -> set[uuid.UUID]:
    """Every ref still queued (the queue is what the integrator has not
    reached yet: short)."""
    return set(session.scalars(select(_queue.c.ref)))


def integrate(session: Session, limit: int) -> list[tuple[uuid.UUID, int]]:
    """Sequence up to `limit` queued leaves, oldest first: append them and
    take them off the queue. Returns (ref, index) for each. Takes the head's
    lock first, so one integrator at a time sees and takes a leaf; with
    nothing queued it writes nothing."""
    if session.execute(select(_queue.c.seq).limit(1)).first() is None:
        return []
    lock_head(session)
    rows = session.execute(
        select(_queue.c.seq, _queue.c.ref, _queue.c.leaf_data).order_by(_queue.c.seq).limit(limit)
    ).all()
    if not rows:
        return []
    first = append_many(session, [bytes(d) for _seq, _ref, d in rows])
    session.execute(delete(_queue).where(_queue.c.seq.in_([seq for seq, _ref, _d in rows])))
    return [(ref, first + i) for i, (_seq, ref, _d) in enumerate(rows)]


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
