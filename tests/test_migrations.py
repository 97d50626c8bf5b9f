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
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from portal.db import make_engine
    from portal.migrations import upgrade
    from portal.transparency import log
    from portal.transparency.checkpoints import latest_checkpoint, verify_log
    from portal.transparency.models import Checkpoint, LogLeaf
    from portal.transparency.notes import Signer, create_key_file

    engine = make_engine(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    create_key_file(tmp_path)
    signer = Signer.load(tmp_path)
    upgrade(engine, "0006")
    with Session(engine) as s:  # the log as the portal wrote it before: appended in the request
        for i in range(13):
            log.append(s, f"before {i}".encode())
            if i in (4, 12):
                latest_checkpoint(s, signer)
        s.commit()
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
