"""registration requests: asking for an activation code is queued; the worker sends the code

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 01:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("identifier_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("requested_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_requests")),
    )
    op.create_index(
        op.f("ix_registration_requests_requested_at"), "registration_requests", ["requested_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_registration_requests_requested_at"), table_name="registration_requests")
    op.drop_table("registration_requests")
