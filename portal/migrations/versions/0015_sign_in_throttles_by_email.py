"""sign-in throttles by e-mail: failures are counted under the e-mail's keyed hash, account or not

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 03:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _table(key: sa.Column, unique: str) -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("id", sa.Uuid(), nullable=False),
        key,
        sa.Column("address_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttles")),
        sa.UniqueConstraint(unique, "address_bidx", name=op.f(f"uq_sign_in_throttles_{unique}_address_bidx")),
    )


def upgrade() -> None:
    # The counts live a day at most: they start again from nothing.
    op.drop_table("sign_in_throttles")
    _table(sa.Column("email_bidx", sa.LargeBinary(length=32), nullable=False), "email_bidx")


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
    _table(sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", name=op.f("fk_sign_in_throttles_user_id_users")), nullable=False), "user_id")
