"""activation code purpose: a code to the contact on file also turns off a lost second factor

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 03:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every code made before this was a registration code.
    with op.batch_alter_table("activation_codes") as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(16), nullable=False, server_default="register"))


def downgrade() -> None:
    with op.batch_alter_table("activation_codes") as batch_op:
        batch_op.drop_column("purpose")
