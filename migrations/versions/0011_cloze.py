"""cloze cards: a topic's card style; a card's cloze text, deletion number and note

Revision ID: 0011_cloze
Revises: 0010
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_cloze'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('topics') as batch:
        batch.add_column(
            sa.Column('card_style', sa.String(length=16), nullable=False, server_default='basic')
        )
    with op.batch_alter_table('cards') as batch:
        batch.add_column(sa.Column('cloze_text', sa.Text(), nullable=True))
        batch.add_column(sa.Column('cloze_ordinal', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('note_guid', sa.String(length=64), nullable=True))
    op.create_index('ix_cards_topic_note', 'cards', ['topic_id', 'note_guid'])


def downgrade() -> None:
    op.drop_index('ix_cards_topic_note', table_name='cards')
    with op.batch_alter_table('cards') as batch:
        batch.drop_column('note_guid')
        batch.drop_column('cloze_ordinal')
        batch.drop_column('cloze_text')
    with op.batch_alter_table('topics') as batch:
        batch.drop_column('card_style')
