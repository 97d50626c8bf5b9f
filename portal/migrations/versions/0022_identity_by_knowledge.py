"""identity by knowledge: sets of questions about a subject's own records, asked to register without a contact on file

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-12 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("identifier_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("address_bidx", sa.LargeBinary(length=32), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("requested_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prepared_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=True),
        sa.Column("answer_hashes", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("journaled_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_knowledge_challenges_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_knowledge_challenges_token_hash")),
    )
    for column in ("identifier_bidx", "address_bidx", "requested_at", "subject_id"):
        op.create_index(op.f(f"ix_knowledge_challenges_{column}"), "knowledge_challenges", [column], unique=False)


def downgrade() -> None:
    for column in ("identifier_bidx", "address_bidx", "requested_at", "subject_id"):
        op.drop_index(op.f(f"ix_knowledge_challenges_{column}"), table_name="knowledge_challenges")
    op.drop_table("knowledge_challenges")
