"""The usage ledger (append-only), the counters that cache it, and processed billing webhooks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from srs.kit.db import Base, UTCDateTime, utcnow


class UsageEvent(Base):
    """One billable fact, written once under an idempotency key and never edited (only
    reported_at is set when the event has been sent to Stripe)."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_user_period", "user_id", "period_start"),
        Index("ix_usage_events_unreported", "reported_at", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # "card" | "credit" | "tokens"
    quantity: Mapped[int] = mapped_column(Integer, default=0)  # cards; -1 for a credit
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Plain ids, no foreign keys: deleting a topic (and its jobs and cards) must not edit the ledger.
    job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    card_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UsageCounter(Base):
    """Per user and billing period: a cache of the ledger's sums plus the cards held by running
    jobs. `srs usage rebuild` recomputes it."""

    __tablename__ = "usage_counters"
    __table_args__ = (UniqueConstraint("user_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    cards_used: Mapped[int] = mapped_column(Integer, default=0)
    cards_reserved: Mapped[int] = mapped_column(Integer, default=0)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedWebhookEvent(Base):
    """A billing webhook event already applied: providers deliver the same event more than once."""

    __tablename__ = "processed_webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
