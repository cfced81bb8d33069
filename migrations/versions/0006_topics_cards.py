"""topics: archive, generation on/off

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('topics') as batch:
        batch.add_column(
            sa.Column('generation_enabled', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(
            sa.Column('archived_at', srs.kit.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('topics') as batch:
        batch.drop_column('archived_at')
        batch.drop_column('generation_enabled')
