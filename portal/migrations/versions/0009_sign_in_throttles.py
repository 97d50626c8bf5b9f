"""sign-in throttles: failures per account and client address, instead of locking the account

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 00:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("address_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sign_in_throttles_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttles")),
        sa.UniqueConstraint("user_id", "address_bidx", name=op.f("uq_sign_in_throttles_user_id_address_bidx")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
