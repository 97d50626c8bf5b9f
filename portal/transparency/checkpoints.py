"""Signed checkpoints, made on demand, and the audit of the whole log:
recompute the tree from the stored leaves alone, compare it with the stored
subtrees, and check every stored checkpoint against it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.transparency import log, merkle
from portal.transparency.models import Checkpoint, LogHead, LogNode
from portal.transparency.notes import NoteError, Signer, verify_note

H = merkle.HASH_SIZE


def latest_checkpoint(session: Session, signer: Signer) -> Checkpoint:
    """The checkpoint of the log's current size, signed and stored the first
    time it is asked for. Flushes, never commits."""
    current = log.size(session)
    if (cp := session.get(Checkpoint, current)) is not None:
        return cp
    # Take the append lock, so no append and no other signer runs between
    # reading the size and storing its checkpoint (and two signers of the
    # same size cannot collide on the primary key).
    current = log.lock_head(session)
    if (cp := session.get(Checkpoint, current)) is not None:
        return cp
    root = log.root(session, current)
    cp = Checkpoint(
        size=current, root=root, note=signer.sign_checkpoint(signer.name, current, root), key_name=signer.name
    )
    session.add(cp)
    session.flush()
    return cp


# -- audit -------------------------------------------------------------------
class AuditFailure(Exception):
    """The log does not verify; `index` is the first bad leaf index when known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class AuditReport:
    size: int
    checkpoints: int
    root: bytes


BATCH = 50_000


def _scan(session: Session, sql: str) -> Iterator[tuple[Any, ...]]:
    """Plain rows of a constant statement, fetched in batches (streamed on
    PostgreSQL). The audit reads every leaf and every subtree: per-row ORM
    and type processing would cost more than all the hashing."""
    result = session.connection().execution_options(yield_per=BATCH).exec_driver_sql(sql)
    with closing(result):
        yield from result


def read_leaf_hashes(session: Session) -> bytes:
    """Every stored leaf hash in index order, concatenated. Fails at the
    first index that is missing or whose hash is not 32 bytes."""
    parts: list[bytes] = []
    for expected, (index, h) in enumerate(_scan(session, 'SELECT "index", leaf_hash FROM log_leaves ORDER BY "index"')):
        if index != expected:  # indices are unique (primary key), so this is a gap
            raise AuditFailure(f"leaf {expected}: missing (the next stored leaf is {index})", expected)
        if len(h) != H:
            raise AuditFailure(f"leaf {index}: its hash is {len(h)} bytes, not {H}", index)
        parts.append(bytes(h))
    return b"".join(parts)


def _first_missing(session: Session, level: int) -> int:
    """The first index absent from a stored level (only run on failure)."""
    expected = 0
    for (index,) in session.execute(select(LogNode.index).where(LogNode.level == level).order_by(LogNode.index)):
        if index != expected:
            break
        expected += 1
    return expected


def compare_nodes(session: Session, levels: list[bytes]) -> None:
    """Every stored subtree must be the one recomputed from the leaves, and
    no other may exist. One pass over the table in storage order; then the
    first bad leaf is named: subtrees cover aligned, nested ranges, so a
    difference below explains the one above it, and one in an earlier
    range comes first."""
    counts = [0] * len(levels)
    first: dict[int, tuple[int, str]] = {}  # level -> (index, reason), the lowest index

    def bad(level: int, index: int, reason: str) -> None:
        if level not in first or index < first[level][0]:
            first[level] = (index, reason)

    above = 0
    for level, index, h in _scan(session, 'SELECT level, "index", hash FROM log_nodes'):
        if not 0 <= level < len(levels):
            above += 1
            continue
        blob = levels[level]
        if not 0 <= index < len(blob) // H:
            bad(
                level,
                index,
                "missing (the stored tree still has it)"
                if level == 0
                else "stored, but not part of the tree recomputed from the leaves",
            )
            continue
        counts[level] += 1
        if blob[H * index : H * (index + 1)] != h:
            bad(
                level,
                index,
                "changed (its hash differs from the one the stored tree was built with)"
                if level == 0
                else "changed: it differs from the tree recomputed from the leaves",
            )
    for level, blob in enumerate(levels):  # (level, index) is unique: a short count means a gap
        if counts[level] < len(blob) // H:
            bad(level, _first_missing(session, level), "missing from the stored tree")
    best: tuple[int, int, str] | None = None  # leaf range [start, end) and message
    for level in sorted(first):
        index, reason = first[level]
        start, end = index << level, (index + 1) << level
        if best is None or end <= best[0]:
            where = (
                f"leaf {index}"
                if level == 0
                else f"leaf {start}: the subtree (level {level}, index {index}) over leaves {start}-{end - 1}"
            )
            best = (start, end, f"{where}: {reason}")
    if best:
        raise AuditFailure(best[2], best[0])
    if above:
        raise AuditFailure(f"{above} stored subtree(s) lie above the top of the tree")


def verify_log(session: Session, vkey: str) -> AuditReport:
    """Audit the whole log; raise AuditFailure naming the first bad leaf
    index or checkpoint size."""
    leaves = read_leaf_hashes(session)
    n = len(leaves) // H
    head = session.scalar(select(LogHead.size).where(LogHead.id == log.HEAD_ID)) or 0
    levels = merkle.build_levels(leaves)
    # Leaves against the stored tree first: that names the first bad index.
    compare_nodes(session, levels)
    if head != n:
        raise AuditFailure(f"leaf {min(head, n)}: the head says {head} leaves but {n} are stored", min(head, n))
    tree = merkle.MemoryTree(levels)
    previous: tuple[int, bytes] | None = None
    count = 0
    for cp in session.scalars(select(Checkpoint).order_by(Checkpoint.size)):
        try:
            _origin, size, root = verify_note(cp.note, vkey)
        except NoteError as exc:
            raise AuditFailure(f"checkpoint at size {cp.size}: {exc}") from None
        if (size, root) != (cp.size, cp.root):
            raise AuditFailure(f"checkpoint at size {cp.size}: its stored size or root differ from its signed note")
        if size > n:
            raise AuditFailure(
                f"checkpoint at size {size}: beyond the {n} stored leaves (leaves {n} and on were removed)", n
            )
        if tree.root(size) != root:
            low = previous[0] if previous else 0
            raise AuditFailure(
                f"checkpoint at size {size}: the stored leaves no longer give its signed root; "
                f"a leaf between {low} and {size - 1} was changed, removed or inserted",
                low,
            )
        if previous:
            try:  # by recomputation: a proof from the rebuilt tree, checked by the verifier
                merkle.verify_consistency(
                    previous[0], size, previous[1], root, tree.consistency_proof(previous[0], size)
                )
            except merkle.ProofError as exc:
                raise AuditFailure(
                    f"checkpoint at size {size}: not consistent with the one at size {previous[0]}: {exc}", previous[0]
                ) from None
        if size:
            previous = (size, root)
        count += 1
    return AuditReport(n, count, tree.root(n))
