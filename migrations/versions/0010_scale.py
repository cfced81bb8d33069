"""scale: one active generation job per topic; idempotent reviews (review_id)

Revision ID: 0010
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0004'
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    # Duplicates queued by the old race would block the index: keep each topic's oldest.
    op.execute(
        "UPDATE generation_jobs SET status = 'cancelled' WHERE status = 'queued' AND EXISTS ("
        " SELECT 1 FROM generation_jobs AS older WHERE older.topic_id = generation_jobs.topic_id"
        " AND older.status IN ('queued', 'running') AND older.id < generation_jobs.id)"
    )
    op.create_index(
        'uq_generation_jobs_active_topic', 'generation_jobs', ['topic_id'], unique=True,
        postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE),
    )
    with op.batch_alter_table('review_logs') as batch:
        batch.add_column(sa.Column('review_id', sa.String(length=64), nullable=True))
    op.create_index(
        'uq_review_logs_user_review_id', 'review_logs', ['user_id', 'review_id'], unique=True
    )


def downgrade() -> None:
    op.drop_index('uq_review_logs_user_review_id', table_name='review_logs')
    with op.batch_alter_table('review_logs') as batch:
        batch.drop_column('review_id')
    op.drop_index('uq_generation_jobs_active_topic', table_name='generation_jobs')
