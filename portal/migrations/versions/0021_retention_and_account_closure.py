"""retention and account closure: erasure requests officers decide, and the keys of receipts sent as their
recipients' keys are destroyed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

GROUNDS = ("not_needed", "consent_withdrawn", "unlawful", "objection", "other")
STATUSES = ("open", "accepted", "refused")


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("filed_by_user_id", sa.Uuid(), nullable=False),
        sa.Column("filed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("ground", sa.Enum(*GROUNDS, name="erasureground", native_enum=False, length=24), nullable=False),
        sa.Column("statement_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Enum(*STATUSES, name="erasurestatus", native_enum=False, length=16), nullable=False),
        sa.Column("decided_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_erasure_requests_decided_by_id_users")),
        sa.ForeignKeyConstraint(
            ["filed_by_user_id"], ["users.id"], name=op.f("fk_erasure_requests_filed_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_erasure_requests_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    op.create_index(op.f("ix_erasure_requests_status"), "erasure_requests", ["status"], unique=False)
    op.create_index(op.f("ix_erasure_requests_subject_id"), "erasure_requests", ["subject_id"], unique=False)
    op.create_table(
        "receipt_keys",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("data_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["data_key_id"], ["data_keys.id"], name=op.f("fk_receipt_keys_data_key_id_data_keys")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_receipt_keys_message_id_messages")),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_receipt_keys")),
        sa.UniqueConstraint("data_key_id", name=op.f("uq_receipt_keys_data_key_id")),
    )
    op.create_index(op.f("ix_receipt_keys_created_at"), "receipt_keys", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_receipt_keys_created_at"), table_name="receipt_keys")
    op.drop_table("receipt_keys")
    op.drop_index(op.f("ix_erasure_requests_subject_id"), table_name="erasure_requests")
    op.drop_index(op.f("ix_erasure_requests_status"), table_name="erasure_requests")
    op.drop_table("erasure_requests")
