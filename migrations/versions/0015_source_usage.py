"""source usage: the sources' own usage ledger, so deleting a topic refunds nothing

Revision ID: 0015_source_usage
Revises: 0014_card_rewrites
Create Date: 2026-12-02

One row per accepted source (its id a plain integer, no foreign key): a topic's deletion
cascades its sources away, not their count. Backfilled from every source that counts today
(all but the failed ones, the removed ones included), so no period's usage changes. A new
table only: no existing table is rebuilt (the SQLite triggers of 0013 stay).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = '0015_source_usage'
down_revision = '0014_card_rewrites'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('created_at', srs.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_source_usage_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_usage')),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_source_usage_source_id'), 'source_usage', ['source_id'], unique=False)
    op.create_index('ix_source_usage_user_created', 'source_usage', ['user_id', 'created_at'], unique=False)
    # The count GET /usage showed until now: every source but the failed ones.
    op.execute(
        "INSERT INTO source_usage (user_id, source_id, size_bytes, pages, created_at)"
        " SELECT user_id, id, size_bytes, COALESCE(pages, 0), created_at FROM sources"
        " WHERE status <> 'failed' ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index('ix_source_usage_user_created', table_name='source_usage')
    op.drop_index(op.f('ix_source_usage_source_id'), table_name='source_usage')
    op.drop_table('source_usage')
