"""verification pass: cards held back with their reason, and a per-topic switch

Revision ID: 0016_held_cards
Revises: 0015_source_usage
Create Date: 2026-12-02

`held_cards` is a table of its own, not a state on `cards`: the study queue's partial indexes
and the count triggers on `cards` (0013) are left untouched. `topics.verify_cards` is null
while the topic follows the default (on for a topic with sources, off for the others).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = '0016_held_cards'
down_revision = '0015_source_usage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('topics', sa.Column('verify_cards', sa.Boolean(), nullable=True))
    op.create_table(
        'held_cards',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('topic_id', sa.Integer(), sa.ForeignKey('topics.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('job_id', sa.Integer(),
                  sa.ForeignKey('generation_jobs.id', ondelete='SET NULL'), nullable=True),
        sa.Column('front', sa.Text(), nullable=False),
        sa.Column('back', sa.Text(), nullable=False),
        sa.Column('extra', sa.JSON(), nullable=True),
        sa.Column('model', sa.String(200), nullable=True),
        sa.Column('level', sa.Integer(), nullable=True),
        sa.Column('subtopic_id', sa.Integer(),
                  sa.ForeignKey('subtopics.id', ondelete='SET NULL'), nullable=True),
        sa.Column('cloze_text', sa.Text(), nullable=True),
        sa.Column('cloze_ordinal', sa.Integer(), nullable=True),
        sa.Column('note_guid', sa.String(64), nullable=True),
        sa.Column('citation', sa.JSON(), nullable=True),
        sa.Column('label', sa.String(32), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('verifier', sa.String(200), nullable=True),
        sa.Column('created_at', srs.kit.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_held_cards_topic', 'held_cards', ['topic_id', 'id'])
    op.create_index('ix_held_cards_user_id', 'held_cards', ['user_id'])
    op.create_index('ix_held_cards_job_id', 'held_cards', ['job_id'])


def downgrade() -> None:
    op.drop_table('held_cards')
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of `topics` would drop and re-create
    # the parent of every card (with foreign keys on, its cards with it).
    op.drop_column('topics', 'verify_cards')
