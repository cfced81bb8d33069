"""The usage ledger (append-only), the counters that cache it, the reservations of batches
being generated, and billing webhooks (processed, or parked until their customer is known)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    kind: Mapped[str] = mapped_column(String(16))  # "card" | "credit" | "rebill" | "tokens"
    quantity: Mapped[int] = mapped_column(Integer, default=0)  # cards; -1 for a credit
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # The card event a credit or rebill is about (its idempotency key); a card event's own key.
    subject: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    # Plain ids, no foreign keys: deleting a topic (and its jobs and cards) must not edit the ledger.
    job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    card_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Stripe refused the event for good (a 4xx other than 429): the outbox moved past it.
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Reservation(Base):
    """Cards of a user's quota held for one generation batch. Metering owns these rows. The
    random `key` (never a row id, which SQLite hands out again after a delete) is the base of
    every billing key of the batch: `card:{key}:{ordinal}`, `tokens:{key}:{attempt}`."""

    __tablename__ = "usage_reservations"
    __table_args__ = (
        Index("ix_usage_reservations_topic_held", "topic_id", "held"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A plain id, no foreign key: deleting a topic releases its reservations in its own
    # transaction (metering.release_topic) instead of cascading them away.
    topic_id: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    held: Mapped[int] = mapped_column(Integer, default=0)  # in usage_counters.cards_reserved
    billed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UsageCounter(Base):
    """Per user and billing period: a cache of the ledger's sums plus the cards held by
    reservations. `srs usage rebuild` recomputes it."""

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


class ParkedWebhookEvent(Base):
    """A subscription event for a customer no user is linked to yet. It is kept (never
    dropped), counted in srs_billing_parked_events, listed by `srs billing parked`, and applied
    as soon as the customer is linked (checkout.session.completed, or an event naming the user)."""

    __tablename__ = "parked_webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    customer: Mapped[str] = mapped_column(String(255), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
