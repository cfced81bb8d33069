"""card rewrites: a leech's proposed rewrite (one card, or a split into two)

Revision ID: 0014_card_rewrites
Revises: 0013_queue_counts
Create Date: 2026-12-02

Two columns are added to `cards` (add_column, no table rebuild: the SQLite triggers of
0013 stay) and neither is in the study queue's indexes.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = '0014_card_rewrites'
down_revision = '0013_queue_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cards', sa.Column('rewritten_at_lapses', sa.Integer(), server_default='0', nullable=False))
    op.add_column('cards', sa.Column('retired_reason', sa.Text(), nullable=True))
    op.create_table('card_rewrites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('original_front', sa.Text(), nullable=False),
    sa.Column('original_back', sa.Text(), nullable=False),
    sa.Column('cards', sa.JSON(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('new_card_ids', sa.JSON(), nullable=True),
    sa.Column('created_at', srs.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', srs.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_rewrites_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_card_rewrites_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_rewrites'))
    )
    op.create_index(op.f('ix_card_rewrites_card_id'), 'card_rewrites', ['card_id'], unique=False)
    op.create_index(op.f('ix_card_rewrites_user_id'), 'card_rewrites', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_card_rewrites_user_id'), table_name='card_rewrites')
    op.drop_index(op.f('ix_card_rewrites_card_id'), table_name='card_rewrites')
    op.drop_table('card_rewrites')
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the triggers of 0013.
    op.drop_column('cards', 'retired_reason')
    op.drop_column('cards', 'rewritten_at_lapses')
