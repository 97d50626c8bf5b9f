"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 09:05:17.998382
"""
from alembic import op
import sqlalchemy as sa
import portal.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kek_version', sa.Integer(), nullable=True),
    sa.Column('wrapped', sa.LargeBinary(length=64), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('destroyed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_keys'))
    )
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_keys_kek_version'), ['kek_version'], unique=False)

    op.create_table('kek_versions',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('check_value', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_kek_versions'))
    )
    op.create_table('institutions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('bank', 'lender', 'court', 'tax_bureau', 'regulator', 'utility', 'employer', name='institutionkind', native_enum=False, length=32), nullable=False),
    sa.Column('allowed_purposes', sa.JSON(), nullable=False),
    sa.Column('data_key_id', sa.Uuid(), nullable=False),
    sa.Column('contact_name_ct', sa.LargeBinary(), nullable=False),
    sa.Column('contact_email_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_institutions_data_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions')),
    sa.UniqueConstraint('code', name=op.f('uq_institutions_code')),
    sa.UniqueConstraint('data_key_id', name=op.f('uq_institutions_data_key_id'))
    )
    op.create_table('subjects',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('person', 'firm', name='subjectkind', native_enum=False, length=8), nullable=False),
    sa.Column('data_key_id', sa.Uuid(), nullable=False),
    sa.Column('identifier_bidx', sa.LargeBinary(length=32), nullable=True),
    sa.Column('identifier_ct', sa.LargeBinary(), nullable=False),
    sa.Column('name_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shredded_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_subjects_data_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subjects')),
    sa.UniqueConstraint('data_key_id', name=op.f('uq_subjects_data_key_id')),
    sa.UniqueConstraint('identifier_bidx', name=op.f('uq_subjects_identifier_bidx'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_api_keys_institution_id_institutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_api_keys_key_id'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_institution_id'), ['institution_id'], unique=False)

    op.create_table('credit_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('furnisher_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.Enum('loan', 'credit_card', 'guarantee', 'tax_arrears', 'court_judgment', 'administrative_penalty', 'dishonest_debtor', 'utility_arrears', name='category', native_enum=False, length=32), nullable=False),
    sa.Column('reference_bidx', sa.LargeBinary(length=32), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['furnisher_id'], ['institutions.id'], name=op.f('fk_credit_records_furnisher_id_institutions')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_credit_records_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_records')),
    sa.UniqueConstraint('furnisher_id', 'reference_bidx', name=op.f('uq_credit_records_furnisher_id_reference_bidx'))
    )
    with op.batch_alter_table('credit_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_records_furnisher_id'), ['furnisher_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_records_subject_id'), ['subject_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.Enum('person', 'firm_representative', 'firm_agent', 'officer', 'supervisor', 'administrator', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('data_key_id', sa.Uuid(), nullable=False),
    sa.Column('email_bidx', sa.LargeBinary(length=32), nullable=False),
    sa.Column('email_ct', sa.LargeBinary(), nullable=False),
    sa.Column('display_name_ct', sa.LargeBinary(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('totp_secret_ct', sa.LargeBinary(), nullable=True),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_users_data_key_id_data_keys')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_users_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('data_key_id', name=op.f('uq_users_data_key_id')),
    sa.UniqueConstraint('email_bidx', name=op.f('uq_users_email_bidx'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_subject_id'), ['subject_id'], unique=False)

    op.create_table('firm_delegations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('firm_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('granted_by_id', sa.Uuid(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_firm_delegations_agent_id_users')),
    sa.ForeignKeyConstraint(['firm_id'], ['subjects.id'], name=op.f('fk_firm_delegations_firm_id_subjects')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_firm_delegations_granted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firm_delegations'))
    )
    with op.batch_alter_table('firm_delegations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firm_delegations_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_firm_delegations_firm_id'), ['firm_id'], unique=False)

    op.create_table('record_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('record_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'overdue', 'settled', 'closed', 'written_off', 'in_force', 'lifted', name='recordstatus', native_enum=False, length=32), nullable=False),
    sa.Column('is_negative', sa.Boolean(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('payload_ct', sa.LargeBinary(), nullable=False),
    sa.Column('furnished_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['credit_records.id'], name=op.f('fk_record_versions_record_id_credit_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_versions')),
    sa.UniqueConstraint('record_id', 'version', name=op.f('uq_record_versions_record_id_version'))
    )
    with op.batch_alter_table('record_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_versions_expires_on'), ['expires_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('record_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_versions_expires_on'))

    op.drop_table('record_versions')
    with op.batch_alter_table('firm_delegations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firm_delegations_firm_id'))
        batch_op.drop_index(batch_op.f('ix_firm_delegations_agent_id'))

    op.drop_table('firm_delegations')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_subject_id'))

    op.drop_table('users')
    with op.batch_alter_table('credit_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_records_subject_id'))
        batch_op.drop_index(batch_op.f('ix_credit_records_furnisher_id'))

    op.drop_table('credit_records')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_institution_id'))

    op.drop_table('api_keys')
    op.drop_table('subjects')
    op.drop_table('institutions')
    op.drop_table('kek_versions')
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_keys_kek_version'))

    op.drop_table('data_keys')
