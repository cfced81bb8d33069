"""metering owns its reservations; refunds and re-bills; parked webhooks; refused reports

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01

Reservations move from generation_jobs.reserved/reserved_period into usage_reservations,
each with a random key that billing keys are built from (row ids are reused by SQLite).
The two old columns are dropped with plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35):
rebuilding generation_jobs with foreign keys on would SET NULL every card's job_id.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

import srs.kit.db

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("period_start", srs.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("billed", sa.Integer(), nullable=False),
        sa.Column("created_at", srs.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", srs.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_usage_reservations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_reservations")),
        sa.UniqueConstraint("key", name=op.f("uq_usage_reservations_key")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_usage_reservations_topic_held", "usage_reservations", ["topic_id", "held"]
    )
    op.create_index(
        op.f("ix_usage_reservations_user_id"), "usage_reservations", ["user_id"]
    )
    op.create_table(
        "parked_webhook_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("customer", sa.String(length=255), nullable=False),
        sa.Column("created", srs.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("parked_at", srs.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_webhook_events")),
    )
    op.create_index(
        op.f("ix_parked_webhook_events_customer"), "parked_webhook_events", ["customer"]
    )
    op.add_column("usage_events", sa.Column("subject", sa.String(length=200), nullable=True))
    op.add_column(
        "usage_events",
        sa.Column("refused_at", srs.kit.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(op.f("ix_usage_events_subject"), "usage_events", ["subject"])
    op.add_column(
        "generation_jobs", sa.Column("reservation_key", sa.String(length=32), nullable=True)
    )
    _move_reservations()
    _link_old_credits()
    op.execute("ALTER TABLE generation_jobs DROP COLUMN reserved_period")
    op.execute("ALTER TABLE generation_jobs DROP COLUMN reserved")


def _move_reservations() -> None:
    """Cards held by jobs now are held by a reservation of their own."""
    bind = op.get_bind()
    jobs = sa.table(
        "generation_jobs",
        sa.column("id", sa.Integer()),
        sa.column("user_id", sa.Integer()),
        sa.column("topic_id", sa.Integer()),
        sa.column("reserved", sa.Integer()),
        sa.column("reserved_period", srs.kit.db.UTCDateTime()),
        sa.column("reservation_key", sa.String()),
    )
    reservations = sa.table(
        "usage_reservations",
        sa.column("key", sa.String()),
        sa.column("user_id", sa.Integer()),
        sa.column("topic_id", sa.Integer()),
        sa.column("period_start", srs.kit.db.UTCDateTime()),
        sa.column("held", sa.Integer()),
        sa.column("billed", sa.Integer()),
        sa.column("created_at", srs.kit.db.UTCDateTime()),
    )
    rows = bind.execute(
        sa.select(
            jobs.c.id, jobs.c.user_id, jobs.c.topic_id, jobs.c.reserved, jobs.c.reserved_period
        ).where(jobs.c.reserved > 0, jobs.c.reserved_period.is_not(None))
    ).all()
    for row in rows:
        key = uuid.uuid4().hex
        bind.execute(
            reservations.insert().values(
                key=key,
                user_id=row.user_id,
                topic_id=row.topic_id,
                period_start=row.reserved_period,
                held=row.reserved,
                billed=0,
                created_at=srs.kit.db.utcnow(),
            )
        )
        bind.execute(jobs.update().where(jobs.c.id == row.id).values(reservation_key=key))


def _link_old_credits() -> None:
    """Card events are their own subject; a credit made before this revision is about the
    latest card event of its card, so that card is not refunded a second time."""
    op.execute("UPDATE usage_events SET subject = idempotency_key WHERE kind = 'card'")
    op.execute(
        "UPDATE usage_events SET subject = ("
        " SELECT billed.idempotency_key FROM usage_events AS billed"
        " WHERE billed.kind = 'card' AND billed.card_id = usage_events.card_id"
        " AND billed.user_id = usage_events.user_id ORDER BY billed.id DESC LIMIT 1)"
        " WHERE kind = 'credit' AND subject IS NULL"
    )


def downgrade() -> None:
    op.add_column(
        "generation_jobs",
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "generation_jobs",
        sa.Column("reserved_period", srs.kit.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute("ALTER TABLE generation_jobs DROP COLUMN reservation_key")
    op.drop_index(op.f("ix_usage_events_subject"), table_name="usage_events")
    op.execute("ALTER TABLE usage_events DROP COLUMN refused_at")
    op.execute("ALTER TABLE usage_events DROP COLUMN subject")
    op.drop_index(op.f("ix_parked_webhook_events_customer"), table_name="parked_webhook_events")
    op.drop_table("parked_webhook_events")
    op.drop_index("ix_usage_reservations_topic_held", table_name="usage_reservations")
    op.drop_index(op.f("ix_usage_reservations_user_id"), table_name="usage_reservations")
    op.drop_table("usage_reservations")
