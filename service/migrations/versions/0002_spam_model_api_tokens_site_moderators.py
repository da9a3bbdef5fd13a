"""spam model, api tokens, site moderators

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:26:32.986627
"""
from alembic import op
import sqlalchemy as sa
from service.db import UTCDateTime


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('spam_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('labels_seen', sa.Integer(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=True),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spam_models')),
    sa.UniqueConstraint('scope', name=op.f('uq_spam_models_scope'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('site_moderators',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_moderators_site_id_sites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_site_moderators_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('site_id', 'user_id', name=op.f('pk_site_moderators'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_key', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('signals', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('learned_label', sa.String(length=8), nullable=True))
    # Existing comments get the key new ones get: the email if given, else the name (service.comments.models).
    op.execute(
        "UPDATE comments SET author_key = CASE WHEN author_email IS NOT NULL "
        "THEN 'email:' || lower(author_email) ELSE 'name:' || lower(author_name) END"
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.alter_column('author_key', existing_type=sa.String(length=300), nullable=False)
        batch_op.create_index('ix_comments_site_id_author_key', ['site_id', 'author_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_site_id_author_key')
        batch_op.drop_column('learned_label')
        batch_op.drop_column('signals')
        batch_op.drop_column('author_key')

    op.drop_table('site_moderators')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('spam_models')
