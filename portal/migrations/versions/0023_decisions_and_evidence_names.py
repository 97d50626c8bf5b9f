"""decisions and evidence names: the name an evidence file was uploaded with (sealed), and files held back from a
furnisher when a case is sent

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-12 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Files kept before have no name: pages show them under a neutral label.
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_ct", sa.LargeBinary(), nullable=True))
    # Every row so far records a file sent to a furnisher.
    with op.batch_alter_table("evidence_shares", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_back", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("held_back_reason_ct", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35 and later): a batch would
    # rebuild evidence, which evidence_shares references.
    op.drop_column("evidence_shares", "held_back_reason_ct")
    op.drop_column("evidence_shares", "held_back")
    op.drop_column("evidence", "name_ct")
