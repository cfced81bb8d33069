from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from srs.kit.db import Base, UTCDateTime, utcnow


class ReviewLog(Base):
    """One answer. `card_before` holds the card's scheduling fields before it, so undo is exact;
    (card_id, rating, reviewed_at) is what the FSRS optimiser reads."""

    __tablename__ = "review_logs"
    __table_args__ = (
        Index("ix_review_logs_topic_time", "topic_id", "reviewed_at"),
        # New cards studied today (the daily limit): today's first answers only, not all of
        # today's answers. Spelt as the query spells it, for SQLite.
        Index(
            "ix_review_logs_topic_new",
            "topic_id",
            "reviewed_at",
            postgresql_where=text("first_attempt = true"),
            sqlite_where=text("first_attempt = 1"),
        ),
        Index("uq_review_logs_user_review_id", "user_id", "review_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    first_attempt: Mapped[bool] = mapped_column(Boolean, default=False)
    card_before: Mapped[dict] = mapped_column(JSON)
    topic_before: Mapped[dict | None] = mapped_column(JSON, default=None)
    # The client's id for this answer: a repeated one returns the first result.
    review_id: Mapped[str | None] = mapped_column(String(64), default=None)
