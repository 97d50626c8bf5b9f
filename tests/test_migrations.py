"""The migrations at head describe exactly the models."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import database
from portal.models import all_models

pytestmark = pytest.mark.committing  # alembic reads the schema on a connection of its own


def test_migrations_at_head_match_the_models(ctx):
    with database().engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), all_models())
    assert diff == []


def test_the_log_queue_migration_keeps_the_log_as_it_was(tmp_path):
    """0007 adds the queue and touches nothing else: a log written before it
    has the same leaves, root and checkpoints after, and grows on through
    the integrator."""
    from sqlalchemy import select, text
    from sqlalchemy.orm import Session

    from portal.db import make_engine
    from portal.migrations import upgrade
    from portal.transparency import log, merkle
    from portal.transparency.checkpoints import latest_checkpoint, verify_log
    from portal.transparency.models import Checkpoint, LogLeaf
    from portal.transparency.notes import Signer, create_key_file

    engine = make_engine(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    create_key_file(tmp_path)
    signer = Signer.load(tmp_path)
    upgrade(engine, "0006")
    # The log as the portal wrote it before (appended in the request), in
    # the tables' shape of then: leaves, every complete subtree, the head
    # and two checkpoints.
    levels = merkle.build_levels(b"".join(merkle.leaf_hash(f"before {i}".encode()) for i in range(13)))
    tree, at = merkle.MemoryTree(levels), "2026-01-01 00:00:00.000000"
    with engine.begin() as c:
        c.execute(
            text('INSERT INTO log_leaves ("index", leaf_hash, appended_at) VALUES (:i, :h, :t)'),
            [{"i": i, "h": levels[0][32 * i : 32 * (i + 1)], "t": at} for i in range(13)],
        )
        c.execute(
            text('INSERT INTO log_nodes (level, "index", hash) VALUES (:l, :i, :h)'),
            [
                {"l": level, "i": i, "h": blob[32 * i : 32 * (i + 1)]}
                for level, blob in enumerate(levels)
                for i in range(len(blob) // 32)
            ],
        )
        c.execute(text("INSERT INTO log_head (id, size) VALUES (1, 13)"))
        c.execute(
            text("INSERT INTO checkpoints (size, root, note, key_name, created_at) VALUES (:s, :r, :n, :k, :t)"),
            [
                {
                    "s": n,
                    "r": tree.root(n),
                    "n": signer.sign_checkpoint(signer.name, n, tree.root(n)),
                    "k": signer.name,
                    "t": at,
                }
                for n in (5, 13)
            ],
        )
    with Session(engine) as s:
        before = (log.root(s, 13), s.execute(select(Checkpoint.size, Checkpoint.root, Checkpoint.note)).all())
        leaves = s.execute(select(LogLeaf.index, LogLeaf.leaf_hash)).all()
    upgrade(engine, "head")
    with Session(engine) as s:
        assert (log.root(s, 13), s.execute(select(Checkpoint.size, Checkpoint.root, Checkpoint.note)).all()) == before
        assert s.execute(select(LogLeaf.index, LogLeaf.leaf_hash)).all() == leaves
        log.enqueue(s, uuid.uuid4(), b"after")
        assert [index for _ref, index in log.integrate(s, 10)] == [13]
        latest_checkpoint(s, signer)
        s.commit()
        assert verify_log(s, signer.vkey).size == 14
    engine.dispose()
