"""Signed checkpoints, made on demand, and the audit of the whole log:
recompute the tree from the stored leaves alone, compare it with the stored
subtrees, and check every stored checkpoint against it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.transparency import log, merkle
from portal.transparency.models import Checkpoint, LogHead, LogNode
from portal.transparency.notes import NoteError, Signer, signature_lines, verify_note

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
    """The log does not verify; `index` is the first bad leaf index when
    known. An audit that goes on after a problem raises one AuditFailure
    for all it found: its message and index are the first one's, `problems`
    lists them (the first KEEP of them) and `count` says how many there were."""

    def __init__(
        self, message: str, index: int | None = None, problems: Sequence[AuditFailure] = (), count: int = 0
    ) -> None:
        super().__init__(message)
        self.index = index
        self.problems: list[AuditFailure] = list(problems) or [self]
        self.count = max(count, len(self.problems))


class Problems:
    """The problems an audit found, in the order found: every one counted,
    the first KEEP kept (a log whose every event fails must not fill the
    memory with messages)."""

    KEEP = 1000

    def __init__(self) -> None:
        self.kept: list[AuditFailure] = []
        self.count = 0

    def add(self, failure: AuditFailure) -> None:
        self.kept.extend(failure.problems[: self.KEEP - len(self.kept)])
        self.count += failure.count

    def check(self) -> None:
        """Raise one AuditFailure for all of them, if there is any."""
        if self.count:
            first = self.kept[0]
            more = f" (and {self.count - 1} more problem(s))" if self.count > 1 else ""
            raise AuditFailure(f"{first}{more}", first.index, self.kept, self.count)


@dataclass(frozen=True)
class Held:
    """A signed checkpoint kept outside the database (a note saved from
    /transparency/checkpoint, a witness's copy) and where it came from:
    what the operator cannot rewrite, so it shows a log cut short."""

    source: str
    note: str


@dataclass(frozen=True)
class AuditReport:
    size: int
    checkpoints: int
    root: bytes
    # (source, size) of each held checkpoint the stored log was proved to contain.
    held: tuple[tuple[str, int], ...] = ()


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


def verify_log(session: Session, vkey: str, held: Sequence[Held] = ()) -> AuditReport:
    """Audit the whole log, then check it against the checkpoints `held`
    outside the database. Raises AuditFailure naming the first bad leaf
    index or checkpoint, with every problem found in its `problems`: the
    audit of the stored tree stops at its first failure (a broken tree makes
    the later checks meaningless), the held checkpoints are checked anyway,
    against the tree recomputed from the stored leaves when there is one."""
    problems = Problems()
    tree: merkle.MemoryTree | None = None
    count = 0
    try:
        tree = merkle.MemoryTree(merkle.build_levels(read_leaf_hashes(session)))
        count = _audit_stored(session, vkey, tree)
    except AuditFailure as exc:
        problems.add(exc)
    proven = []
    if held:
        stored = tree.size if tree is not None else log.size(session)
        newest = session.scalar(select(func.max(Checkpoint.size)))
        for h in held:
            failures = check_held(h, vkey, tree, stored, newest)
            for failure in failures:
                problems.add(failure)
            if not failures and tree is not None:
                proven.append((h.source, verify_note(h.note, vkey)[1]))
    problems.check()
    if tree is None:  # pragma: no cover - no tree is always a problem, raised above
        raise AssertionError("no tree and no problem")
    return AuditReport(tree.size, count, tree.root(tree.size), tuple(proven))


def _audit_stored(session: Session, vkey: str, tree: merkle.MemoryTree) -> int:
    """The stored tree against the one recomputed from the stored leaves,
    the head, and every stored checkpoint; returns how many checkpoints
    there are. Raises AuditFailure at the first failure."""
    n = tree.size
    head = session.scalar(select(LogHead.size).where(LogHead.id == log.HEAD_ID)) or 0
    # Leaves against the stored tree first: that names the first bad index.
    compare_nodes(session, tree.levels)
    if head != n:
        raise AuditFailure(f"leaf {min(head, n)}: the head says {head} leaves but {n} are stored", min(head, n))
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
    return count


def check_held(
    held: Held, vkey: str, tree: merkle.MemoryTree | None, stored: int, newest: int | None
) -> list[AuditFailure]:
    """The problems a checkpoint held outside the database shows in the
    stored log: `tree` is the one recomputed from the stored leaves (None
    when they could not be read), `stored` how many leaves the log has, and
    `newest` the size of the newest stored checkpoint. None found: the
    stored log contains the held one (its first leaves give its root)."""
    try:
        signature_lines(held.note)
    except NoteError as exc:
        return [AuditFailure(f"{held.source}: could not be checked: not a checkpoint note ({exc})")]
    try:
        _origin, size, root = verify_note(held.note, vkey)
    except NoteError as exc:
        return [
            AuditFailure(
                f"the checkpoint held by {held.source} does not verify against the log's key "
                f"{vkey.split('+', 1)[0]}, so it proves nothing (it could be forged): {exc}"
            )
        ]
    deleted = None
    if (newest or 0) < size:
        deleted = "none is stored" if newest is None else f"the newest stored one is of size {newest}"
    if size > stored:
        message = (
            f"the log was truncated: {held.source} holds a signed checkpoint of {size} leaves, "
            f"the stored log has {stored} (leaves {stored} to {size - 1} are gone)"
        )
        if deleted:
            message += f", and signed checkpoints up to size {size} were deleted ({deleted})"
        return [AuditFailure(message, stored)]
    failures = []
    if tree is not None and tree.root(size) != root:
        failures.append(
            AuditFailure(
                f"the stored log is not the one signed at size {size} as held by {held.source}: "
                f"a leaf below {size} was changed, removed or inserted"
            )
        )
    if deleted:
        failures.append(
            AuditFailure(
                f"signed checkpoints up to size {size} were deleted: {held.source} holds one of size {size}, {deleted}"
            )
        )
    return failures
