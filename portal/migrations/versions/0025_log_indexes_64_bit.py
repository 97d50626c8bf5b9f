"""log indexes and sizes 64-bit: the transparency log's positions would overflow 32 bits within a year of a
registry's queries

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-12 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

# (table, column). SQLite's INTEGER is 64 bits already: PostgreSQL only.
COLUMNS = (
    ("log_head", "size"),
    ("log_leaves", "index"),
    ("log_nodes", "index"),
    ("checkpoints", "size"),
    ("checkpoint_cosignatures", "size"),
    ("access_events", "log_index"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
