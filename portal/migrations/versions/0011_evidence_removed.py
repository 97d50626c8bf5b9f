"""evidence removed: what the disarm took out of each file before it was stored

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 01:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Files stored before the disarm existed were kept as received: nothing
    # is known to have been removed from them.
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.add_column(sa.Column("removed", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch_op:
        batch_op.drop_column("removed")
