"""evidence shares: which furnisher of a case gets which file; proposed corrections; decisions per record

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:40:00.000000
"""
import uuid

from alembic import op
import sqlalchemy as sa
import portal.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evidence_shares',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('evidence_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('shared_by_user_id', sa.Uuid(), nullable=False),
    sa.Column('shared_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_evidence_shares_evidence_id_evidence')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_evidence_shares_institution_id_institutions')),
    sa.ForeignKeyConstraint(['shared_by_user_id'], ['users.id'], name=op.f('fk_evidence_shares_shared_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_shares')),
    sa.UniqueConstraint('evidence_id', 'institution_id', name=op.f('uq_evidence_shares_evidence_id_institution_id'))
    )
    with op.batch_alter_table('evidence_shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_shares_evidence_id'), ['evidence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_shares_institution_id'), ['institution_id'], unique=False)

    # Until now every furnisher of a case that an officer had sent could
    # fetch all of its files: record those as shared, by the officer who
    # sent the case, so nothing already given changes under a furnisher.
    conn = op.get_bind()
    uid, moment = sa.Uuid(), portal.db.UTCDateTime(timezone=True)
    evidence = sa.table('evidence', sa.column('id', uid), sa.column('dispute_id', uid))
    items = sa.table('dispute_items', sa.column('dispute_id', uid), sa.column('record_id', uid))
    records = sa.table('credit_records', sa.column('id', uid), sa.column('furnisher_id', uid))
    steps = sa.table('dispute_steps', sa.column('dispute_id', uid), sa.column('step', sa.String()),
                     sa.column('actor_user_id', uid), sa.column('at', moment))
    shares = sa.table('evidence_shares', sa.column('id', uid), sa.column('evidence_id', uid),
                      sa.column('institution_id', uid), sa.column('shared_by_user_id', uid),
                      sa.column('shared_at', moment))
    rows = conn.execute(
        sa.select(evidence.c.id, records.c.furnisher_id, steps.c.actor_user_id, steps.c.at)
        .join(items, items.c.dispute_id == evidence.c.dispute_id)
        .join(records, records.c.id == items.c.record_id)
        .join(steps, steps.c.dispute_id == evidence.c.dispute_id)
        .where(steps.c.step == 'waiting_for_furnisher', steps.c.actor_user_id.is_not(None))
        .order_by(steps.c.at)).all()
    done = set()
    for evidence_id, institution_id, actor, at in rows:  # the first sending of each file counts
        if (evidence_id, institution_id) not in done:
            done.add((evidence_id, institution_id))
            conn.execute(shares.insert().values(id=uuid.uuid4(), evidence_id=evidence_id,
                                                institution_id=institution_id, shared_by_user_id=actor,
                                                shared_at=at))


    # A furnisher's correction waits, sealed, for the officer's decision
    # (those already applied keep their corrected_version).
    with op.batch_alter_table('dispute_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correction_ct', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('proposed_on_version', sa.Integer(), nullable=True))

    # A case over several records may decide each differently.
    with op.batch_alter_table('dispute_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.Enum('corrected', 'deleted', 'verified_accurate', 'unverifiable',
                                                         'repaired', 'repair_refused', name='disputeoutcome',
                                                         native_enum=False, length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('dispute_items', schema=None) as batch_op:
        batch_op.drop_column('outcome')
    # Corrections still waiting for a decision are lost with the column.
    with op.batch_alter_table('dispute_responses', schema=None) as batch_op:
        batch_op.drop_column('proposed_on_version')
        batch_op.drop_column('correction_ct')

    with op.batch_alter_table('evidence_shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_shares_institution_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_shares_evidence_id'))

    op.drop_table('evidence_shares')
