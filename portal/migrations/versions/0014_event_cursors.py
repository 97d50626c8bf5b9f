"""event cursors: the worker tells subjects of institutions' queries, reading the log in order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_cursors")),
    )
    # Queries recorded before this were told at once, in their request: the
    # job starts after them (those integrated, and those still queued, which
    # the integrator will place next).
    op.execute(
        "INSERT INTO event_cursors (name, position) SELECT 'query_notices', "
        "COALESCE(MAX(log_index), -1) + (SELECT COUNT(*) FROM log_queue) FROM access_events"
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
