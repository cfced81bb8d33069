"""semantic dedup: card embeddings and recorded duplicate rejections

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('card_embeddings',
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('card_vector', sa.LargeBinary(), nullable=False),
    sa.Column('answer_vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_embeddings_card_id_cards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('card_id', name=op.f('pk_card_embeddings'))
    )
    op.create_table('duplicate_rejections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('front', sa.Text(), nullable=False),
    sa.Column('back', sa.Text(), nullable=False),
    sa.Column('matched_card_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('created_at', srs.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['generation_jobs.id'], name=op.f('fk_duplicate_rejections_job_id_generation_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['matched_card_id'], ['cards.id'], name=op.f('fk_duplicate_rejections_matched_card_id_cards'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_duplicate_rejections_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_rejections'))
    )
    op.create_index('ix_duplicate_rejections_topic', 'duplicate_rejections', ['topic_id', 'id'], unique=False)
    op.create_index(op.f('ix_duplicate_rejections_job_id'), 'duplicate_rejections', ['job_id'], unique=False)
    op.create_index(op.f('ix_duplicate_rejections_matched_card_id'), 'duplicate_rejections', ['matched_card_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_duplicate_rejections_matched_card_id'), table_name='duplicate_rejections')
    op.drop_index(op.f('ix_duplicate_rejections_job_id'), table_name='duplicate_rejections')
    op.drop_index('ix_duplicate_rejections_topic', table_name='duplicate_rejections')
    op.drop_table('duplicate_rejections')
    op.drop_table('card_embeddings')
