"""topic outline: subtopics, cards.subtopic_id, generation job kind and target

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = '0004'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subtopics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', srs.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_subtopics_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subtopics'))
    )
    with op.batch_alter_table('subtopics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subtopics_topic_id'), ['topic_id'], unique=False)

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subtopic_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cards_subtopic_id'), ['subtopic_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cards_subtopic_id_subtopics'), 'subtopics', ['subtopic_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('generation_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='cards', nullable=False))
        batch_op.add_column(sa.Column('subtopic_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_generation_jobs_subtopic_id_subtopics'), 'subtopics', ['subtopic_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('generation_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_generation_jobs_subtopic_id_subtopics'), type_='foreignkey')
        batch_op.drop_column('subtopic_id')
        batch_op.drop_column('kind')

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cards_subtopic_id_subtopics'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cards_subtopic_id'))
        batch_op.drop_column('subtopic_id')

    with op.batch_alter_table('subtopics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subtopics_topic_id'))

    op.drop_table('subtopics')
