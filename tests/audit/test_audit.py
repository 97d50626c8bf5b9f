"""`portal audit verify` accepts an untouched log and names the first bad
leaf index, or the bad checkpoint, after each kind of tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, update

from portal.db import make_engine, utcnow
from portal.transparency import merkle
from portal.transparency.models import Checkpoint, LogLeaf, LogNode
from tests.transparency.helpers import fill

pytestmark = pytest.mark.committing  # tampers with the tables through an engine of its own

SIZE = 20
CHECKPOINTS = (5, 12, 20)


@pytest.fixture
def audited(log_app, database_url):
    """A log of 20 leaves with checkpoints at 5, 12 and 20; a function that
    runs `portal audit verify`; and an engine to tamper with the tables."""
    fill(log_app, SIZE, checkpoints=CHECKPOINTS)
    engine = make_engine(database_url)

    def verify(*args):
        return log_app.test_cli_runner().invoke(args=["audit", "verify", "--log-only", *args])

    yield verify, engine
    engine.dispose()


def leaf(engine, index):
    with engine.connect() as c:
        return c.scalar(select(LogLeaf.leaf_hash).where(LogLeaf.index == index))


def set_leaf(engine, index, h):
    with engine.begin() as c:
        c.execute(update(LogLeaf).where(LogLeaf.index == index).values(leaf_hash=h))


def failed(result, text):
    assert result.exit_code == 1, result.output
    assert text in result.output, result.output
    return True


def test_an_untouched_log_verifies(audited):
    verify, _engine = audited
    result = verify()
    assert result.exit_code == 0, result.output
    assert f"log verified: {SIZE} leaves, {len(CHECKPOINTS)} signed checkpoints" in result.output
    assert merkle.root([f"leaf {i}".encode() for i in range(SIZE)]).hex() in result.output


def test_a_changed_leaf(audited):
    verify, engine = audited
    set_leaf(engine, 7, merkle.leaf_hash(b"forged"))
    assert failed(verify(), "leaf 7: changed")


def test_a_deleted_leaf(audited):
    verify, engine = audited
    with engine.begin() as c:
        c.execute(delete(LogLeaf).where(LogLeaf.index == 7))
    assert failed(verify(), "leaf 7: missing")


def test_the_last_leaf_deleted(audited):
    verify, engine = audited
    with engine.begin() as c:
        c.execute(delete(LogLeaf).where(LogLeaf.index == SIZE - 1))
    assert failed(verify(), f"leaf {SIZE - 1}: missing (the stored tree still has it)")


def test_two_leaves_swapped(audited):
    verify, engine = audited
    a, b = leaf(engine, 3), leaf(engine, 9)
    set_leaf(engine, 3, b)
    set_leaf(engine, 9, a)
    assert failed(verify(), "leaf 3: changed")


def test_a_leaf_inserted_in_the_middle(audited):
    verify, engine = audited
    with engine.begin() as c:
        for i in range(SIZE - 1, 5, -1):  # make room at 6, from the end so keys never collide
            c.execute(update(LogLeaf).where(LogLeaf.index == i).values(index=i + 1))
        c.execute(insert(LogLeaf).values(index=6, leaf_hash=merkle.leaf_hash(b"inserted"), appended_at=utcnow()))
    assert failed(verify(), "leaf 6: changed")


def test_a_leaf_inserted_at_the_end(audited):
    verify, engine = audited
    with engine.begin() as c:
        c.execute(insert(LogLeaf).values(index=SIZE, leaf_hash=merkle.leaf_hash(b"extra"), appended_at=utcnow()))
    assert failed(verify(), f"leaf {SIZE}: missing from the stored tree")


def test_a_changed_subtree_hash(audited):
    verify, engine = audited
    with engine.begin() as c:
        c.execute(update(LogNode).where(LogNode.level == 2, LogNode.index == 2).values(hash=bytes(32)))
    assert failed(verify(), "leaf 8: the subtree (level 2, index 2) over leaves 8-11: changed")


def test_a_leaf_rewritten_with_its_whole_tree_is_caught_by_the_checkpoints(audited):
    """Someone who also recomputes every stored subtree still cannot match
    the signed roots: the first checkpoint past the change fails."""
    verify, engine = audited
    set_leaf(engine, 9, merkle.leaf_hash(b"forged"))
    with engine.begin() as c:
        leaves = b"".join(c.scalars(select(LogLeaf.leaf_hash).order_by(LogLeaf.index)))
        for level, blob in enumerate(merkle.build_levels(leaves)):
            for index in range(len(blob) // 32):
                c.execute(
                    update(LogNode)
                    .where(LogNode.level == level, LogNode.index == index)
                    .values(hash=blob[32 * index : 32 * index + 32])
                )
    assert failed(
        verify(), "checkpoint at size 12: the stored leaves no longer give its signed root; a leaf between 5 and 11"
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda note: note.replace("\n12\n", "\n13\n"),
        lambda note: note.replace("/log\n", "/log2\n", 1),
        lambda note: note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:],  # the signature
        lambda note: note.split("\n\n")[0] + "\n\n",  # signature removed
    ],
)
def test_an_altered_checkpoint(audited, change):
    verify, engine = audited
    with engine.begin() as c:
        note = c.scalar(select(Checkpoint.note).where(Checkpoint.size == 12))
        assert change(note) != note
        c.execute(update(Checkpoint).where(Checkpoint.size == 12).values(note=change(note)))
    assert failed(verify(), "checkpoint at size 12")


def test_a_checkpoint_whose_stored_root_was_changed(audited):
    verify, engine = audited
    with engine.begin() as c:
        c.execute(update(Checkpoint).where(Checkpoint.size == 12).values(root=bytes(32)))
    assert failed(verify(), "checkpoint at size 12: its stored size or root differ")


def test_a_checkpoint_from_another_key(audited, log_app, tmp_path):
    from portal.transparency.notes import Signer, create_key_file

    create_key_file(tmp_path)
    other = Signer.load(tmp_path)
    verify, engine = audited
    with engine.begin() as c:
        root = c.scalar(select(Checkpoint.root).where(Checkpoint.size == 12))
        c.execute(
            update(Checkpoint).where(Checkpoint.size == 12).values(note=other.sign_checkpoint(other.name, 12, root))
        )
    assert failed(verify(), "checkpoint at size 12: the note is not signed by")
    # ... and checked against that key instead, the others fail.
    assert failed(verify("--key", other.vkey), "checkpoint at size 5")


def test_verify_without_the_key_file_says_so(audited, instance):
    verify, _engine = audited
    (instance / "keys" / "log-signing.key").unlink()
    result = verify()
    assert result.exit_code != 0
    assert "log-signing.key is missing" in result.output


def test_a_missing_subtree_hash(audited):
    verify, engine = audited
    with engine.begin() as c:
        c.execute(delete(LogNode).where(LogNode.level == 1, LogNode.index == 6))
    assert failed(verify(), "leaf 12: the subtree (level 1, index 6) over leaves 12-13: missing from the stored tree")


def test_a_head_that_lies_about_the_size(audited):
    from portal.transparency.models import LogHead

    verify, engine = audited
    with engine.begin() as c:
        c.execute(update(LogHead).values(size=SIZE + 3))
    assert failed(verify(), f"leaf {SIZE}: the head says {SIZE + 3} leaves but {SIZE} are stored")


def test_every_leaf_changed_in_turn_is_named(audited):
    verify, engine = audited
    for index in (0, 1, 2, 8, 15, 16, SIZE - 1):
        original = leaf(engine, index)
        set_leaf(engine, index, merkle.leaf_hash(b"forged"))
        assert failed(verify(), f"leaf {index}: changed")
        set_leaf(engine, index, original)
    assert verify().exit_code == 0
