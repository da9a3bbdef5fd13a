"""word lists in policies

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 17:38:31.262479
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('word_lists', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_column('word_lists')

