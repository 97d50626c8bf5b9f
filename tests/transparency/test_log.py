"""The log in the database: proofs from stored subtrees equal the reference
ones, in O(log n) reads, and appends are sequenced."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from portal.transparency import log, merkle
from portal.transparency.models import LogHead, LogLeaf, LogNode

LEAVES = [f"leaf {i}".encode() for i in range(64)]


@pytest.fixture
def statements(db):
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_empty_log(db):
    assert log.size(db) == 0
    assert log.root(db, 0) == merkle.EMPTY_ROOT
    with pytest.raises(ValueError, match="out of range"):
        log.root(db, 1)
    with pytest.raises(ValueError, match="out of range"):
        log.inclusion_proof(db, 0, 1)


def test_store_matches_the_reference_for_every_size_index_and_pair(db):
    for i, d in enumerate(LEAVES):
        assert log.append(db, d) == i
        assert log.size(db) == i + 1
        assert log.root(db, i + 1) == merkle.root(LEAVES[: i + 1])
    db.commit()
    for n in range(1, 65):
        assert log.root(db, n) == merkle.root(LEAVES[:n])
        for i in range(n):
            assert log.inclusion_proof(db, i, n) == merkle.inclusion_proof_naive(i, LEAVES[:n]), (i, n)
        for m in range(1, n + 1):
            assert log.consistency_proof(db, m, n) == merkle.consistency_proof_naive(m, LEAVES[:n]), (m, n)


def assert_complete_subtrees(db, n):
    """The stored subtrees are exactly the complete ones of LEAVES[:n]."""
    nodes = {(level, index): h for level, index, h in db.execute(select(LogNode.level, LogNode.index, LogNode.hash))}
    expected = {}
    for level in range(n.bit_length()):
        width = 1 << level
        for index in range(n // width):
            expected[(level, index)] = merkle.root(LEAVES[index * width : (index + 1) * width])
    assert nodes == expected


def test_stored_nodes_are_exactly_the_complete_subtrees(db):
    for d in LEAVES[:45]:
        log.append(db, d)
    assert_complete_subtrees(db, 45)
    leaves = dict(db.execute(select(LogLeaf.index, LogLeaf.leaf_hash)).all())
    assert leaves == {i: merkle.leaf_hash(d) for i, d in enumerate(LEAVES[:45])}
    assert db.scalar(select(LogHead.size)) == 45


@pytest.mark.parametrize("batches", [[45], [1, 44], [3, 5, 8, 13, 16], [7] * 6 + [3], [2, 2, 31, 10], [32, 13]])
def test_appending_in_batches_stores_what_one_by_one_does(db, batches):
    """The integrator appends a batch at a time: whatever the cut, the
    leaves and subtrees are exactly those of appending one by one."""
    start = 0
    for size in batches:
        assert log.append_many(db, LEAVES[start : start + size]) == start
        start += size
        assert log.root(db, start) == merkle.root(LEAVES[:start])
    assert_complete_subtrees(db, 45)
    assert db.scalar(select(LogHead.size)) == 45


@pytest.mark.committing  # counts statements: a rolled-back test's savepoints would be among them
def test_reads_and_writes_are_logarithmic(db, statements):
    for d in LEAVES:
        log.append(db, d)
    db.commit()
    statements.clear()
    log.append(db, b"one more")  # the 65th leaf completes no subtree
    assert len(statements) == 3  # bump the head, insert the leaf, insert its node
    log.append(db, b"and another")  # the 66th completes one: its sibling is read
    assert len(statements) == 3 + 4
    for call in (
        lambda: log.root(db, 66),
        lambda: log.inclusion_proof(db, 37, 66),
        lambda: log.consistency_proof(db, 13, 66),
        lambda: log.consistency_proof(db, 66, 66),
    ):
        statements.clear()
        call()
        assert len(statements) == 1, statements


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: log.inclusion_proof(s, 5, 5), "index 5 is out of range"),
        (lambda s: log.inclusion_proof(s, 0, 6), "size 6 is out of range"),
        (lambda s: log.inclusion_proof(s, 4, 9), "size 9 is out of range"),
        (lambda s: log.inclusion_proof(s, -1, 5), "non-negative"),
        (lambda s: log.inclusion_proof(s, True, 5), "non-negative"),
        (lambda s: log.inclusion_proof(s, 0, 2**70), "below 2\\*\\*62"),
        (lambda s: log.consistency_proof(s, 0, 5), "first 0 is out of range"),
        (lambda s: log.consistency_proof(s, 4, 3), "first 4 is out of range"),
        (lambda s: log.consistency_proof(s, 6, 6), "second 6 is out of range"),
        (lambda s: log.consistency_proof(s, 2, 7), "second 7 is out of range"),
        (lambda s: log.root(s, 6), "size 6 is out of range"),
        (lambda s: log.root(s, -2), "non-negative"),
    ],
)
def test_out_of_range_parameters(db, call, message):
    for d in LEAVES[:5]:
        log.append(db, d)
    with pytest.raises(ValueError, match=message):
        call(db)


def test_a_damaged_store_is_not_mistaken_for_a_bad_request(db):
    for d in LEAVES[:8]:
        log.append(db, d)
    db.execute(LogNode.__table__.delete().where(LogNode.level == 3))
    with pytest.raises(LookupError, match="damaged"):
        log.root(db, 8)


def test_an_append_rolls_back_with_its_transaction(db):
    log.append(db, b"kept")
    db.commit()
    log.append(db, b"rolled back")
    db.rollback()
    assert log.size(db) == 1
    assert db.scalar(select(func.count()).select_from(LogLeaf)) == 1
    assert db.scalar(select(func.count()).select_from(LogNode)) == 1
    assert log.append(db, b"next") == 1  # no gap
