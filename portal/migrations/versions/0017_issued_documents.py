"""issued documents: the numbers and hashes of the signed PDFs the portal issued

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 07:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_documents",
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["access_events.id"], name=op.f("fk_issued_documents_event_id_access_events")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_issued_documents")),
        sa.UniqueConstraint("event_id", name=op.f("uq_issued_documents_event_id")),
        sa.UniqueConstraint("sha256", name=op.f("uq_issued_documents_sha256")),
    )
    op.create_index(op.f("ix_issued_documents_series"), "issued_documents", ["series"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_issued_documents_series"), table_name="issued_documents")
    op.drop_table("issued_documents")
