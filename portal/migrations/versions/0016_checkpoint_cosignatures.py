"""checkpoint cosignatures and log entries: witnesses' cosignatures on the log's checkpoints; each leaf's data for the tiles API

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 06:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.LargeBinary(length=4), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("signed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"],
            ["checkpoints.size"],
            name=op.f("fk_checkpoint_cosignatures_size_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("size", "witness", "key_id", name=op.f("pk_checkpoint_cosignatures")),
    )
    with op.batch_alter_table("log_leaves") as batch:
        batch.add_column(sa.Column("leaf_data", sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_leaves") as batch:
        batch.drop_column("leaf_data")
    op.drop_table("checkpoint_cosignatures")
