"""operator console: the operators' journal, proposals under the two-person rule, staff invitations, and the record
categories an institution may furnish

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-11 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ROLES = ("person", "firm_representative", "firm_agent", "officer", "supervisor", "administrator")


def upgrade() -> None:
    op.create_table(
        "operator_acts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_kind", sa.String(length=24), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_user_id"], ["users.id"], name=op.f("fk_operator_acts_actor_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_acts")),
    )
    op.create_index(op.f("ix_operator_acts_actor_user_id"), "operator_acts", ["actor_user_id"], unique=False)
    op.create_index(op.f("ix_operator_acts_at"), "operator_acts", ["at"], unique=False)
    op.create_table(
        "operator_proposals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "grant_administrator",
                "rotate_kek",
                "erase_subject",
                name="proposalaction",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "withdrawn",
                "expired",
                name="proposalstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("target_user_id", sa.Uuid(), nullable=True),
        sa.Column("target_subject_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by_id", sa.Uuid(), nullable=False),
        sa.Column("proposed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_operator_proposals_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["users.id"], name=op.f("fk_operator_proposals_proposed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["target_subject_id"], ["subjects.id"], name=op.f("fk_operator_proposals_target_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"], ["users.id"], name=op.f("fk_operator_proposals_target_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_proposals")),
    )
    op.create_index(op.f("ix_operator_proposals_proposed_at"), "operator_proposals", ["proposed_at"], unique=False)
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Enum(*ROLES, name="role", native_enum=False, length=32), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"], name=op.f("fk_staff_invitations_invited_by_id_users")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["operator_proposals.id"], name=op.f("fk_staff_invitations_proposal_id_operator_proposals")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_invitations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_invitations_token_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_staff_invitations_user_id")),
    )
    with op.batch_alter_table("institutions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowed_categories", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35 and later): a batch would
    # rebuild institutions, which every other table references.
    op.drop_column("institutions", "allowed_categories")
    op.drop_table("staff_invitations")
    op.drop_index(op.f("ix_operator_proposals_proposed_at"), table_name="operator_proposals")
    op.drop_table("operator_proposals")
    op.drop_index(op.f("ix_operator_acts_at"), table_name="operator_acts")
    op.drop_index(op.f("ix_operator_acts_actor_user_id"), table_name="operator_acts")
    op.drop_table("operator_acts")
