"""log queue: leaves wait here for the integrator instead of being appended in the request

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The log itself (leaves, subtrees, head, checkpoints) is untouched: its
    # root and checkpoints are the same before and after.
    op.create_table(
        "log_queue",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ref", sa.Uuid(), nullable=False),
        sa.Column("leaf_data", sa.LargeBinary(length=32), nullable=False),
        sa.Column("queued_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_log_queue")),
        sa.UniqueConstraint("ref", name=op.f("uq_log_queue_ref")),
    )


def downgrade() -> None:
    op.drop_table("log_queue")
