"""indexes for the dashboard event stream's catch-up

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:40:00.000000
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_status_changes_created_at', 'status_changes', ['created_at'], unique=False)
    op.create_index('ix_reports_created_at', 'reports', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reports_created_at', table_name='reports')
    op.drop_index('ix_status_changes_created_at', table_name='status_changes')
