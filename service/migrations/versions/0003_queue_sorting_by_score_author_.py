"""queue sorting by score, author restrictions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:29:35.807328
"""
from alembic import op
import sqlalchemy as sa

from service.db import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('author_restrictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('author_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('until', UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_author_restrictions_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_author_restrictions')),
    sa.UniqueConstraint('site_id', 'author_key', name=op.f('uq_author_restrictions_site_id_author_key'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_score', sa.Float(), nullable=True))
        batch_op.create_index('ix_comments_status_max_score_id', ['status', 'max_score', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_status_max_score_id')
        batch_op.drop_column('max_score')

    op.drop_table('author_restrictions')
