"""transparency log, consents, disclosures, complaints, query lock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:03:55.454256
"""
from alembic import op
import sqlalchemy as sa
import portal.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkpoints',
    sa.Column('size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('key_name', sa.String(length=100), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_checkpoints'))
    )
    op.create_table('log_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_head'))
    )
    op.create_table('log_leaves',
    sa.Column('index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('appended_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('index', name=op.f('pk_log_leaves'))
    )
    op.create_table('log_nodes',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'index', name=op.f('pk_log_nodes'))
    )
    op.create_table('consents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('grant', 'written_authorisation', name='consentkind', native_enum=False, length=32), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('granted_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('document_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('scope_ct', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['granted_by_user_id'], ['users.id'], name=op.f('fk_consents_granted_by_user_id_users')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_consents_institution_id_institutions')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_consents_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index('ix_consents_subject_id_institution_id', ['subject_id', 'institution_id'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('filed_by_user_id', sa.Uuid(), nullable=False),
    sa.Column('statement_ct', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['access_events.id'], name=op.f('fk_complaints_event_id_access_events')),
    sa.ForeignKeyConstraint(['filed_by_user_id'], ['users.id'], name=op.f('fk_complaints_filed_by_user_id_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_complaints_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_subject_id'), ['subject_id'], unique=False)

    op.create_table('disclosures',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('snapshot_ct', sa.LargeBinary(), nullable=False),
    sa.Column('snapshot_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['access_events.id'], name=op.f('fk_disclosures_event_id_access_events')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_disclosures_institution_id_institutions')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_disclosures_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures')),
    sa.UniqueConstraint('event_id', name=op.f('uq_disclosures_event_id'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_subject_id'), ['subject_id'], unique=False)

    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_index', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_access_events_log_index'), ['log_index'])

    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_at', portal.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_column('locked_at')

    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_access_events_log_index'), type_='unique')
        batch_op.drop_column('log_index')

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosures_subject_id'))
        batch_op.drop_index(batch_op.f('ix_disclosures_institution_id'))

    op.drop_table('disclosures')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_subject_id'))

    op.drop_table('complaints')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index('ix_consents_subject_id_institution_id')

    op.drop_table('consents')
    op.drop_table('log_nodes')
    op.drop_table('log_leaves')
    op.drop_table('log_head')
    op.drop_table('checkpoints')
