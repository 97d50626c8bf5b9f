"""The migrations at head describe exactly the models."""

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
