"""closing sites and articles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 17:48:37.909900
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('closed')

    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('closed')

