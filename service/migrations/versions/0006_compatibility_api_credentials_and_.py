"""compatibility api credentials and external labels

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 18:34:42.633550
"""
from alembic import op
import sqlalchemy as sa

from service.db import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('external_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_external_labels_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_labels')),
    sa.UniqueConstraint('site_id', 'content_hash', name=op.f('uq_external_labels_site_id_content_hash'))
    )
    op.create_table('site_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=True),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('hint', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_credentials_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_credentials')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_site_credentials_key_hash'))
    )
    with op.batch_alter_table('site_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_credentials_site_id'), ['site_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('site_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_credentials_site_id'))

    op.drop_table('site_credentials')
    op.drop_table('external_labels')
