"""Every query of the statistics: the reviews in a window, and the seen cards by due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from srs.study.models import ReviewLog
from srs.topics.models import Card


@dataclass(frozen=True)
class ReviewRow:
    reviewed_at: datetime
    rating: int
    first_attempt: bool
    state_before: int | None  # the card's FSRS state when it was answered (2: review)


def reviews_between(
    session: Session, user_id: int, start: datetime, end: datetime, topic_id: int | None
) -> list[ReviewRow]:
    query = select(
        ReviewLog.reviewed_at,
        ReviewLog.rating,
        ReviewLog.first_attempt,
        ReviewLog.card_before["state"].as_integer(),
    ).where(
        ReviewLog.user_id == user_id,
        ReviewLog.reviewed_at >= start,
        ReviewLog.reviewed_at < end,
    )
    if topic_id is not None:
        query = query.where(ReviewLog.topic_id == topic_id)
    return [ReviewRow(r[0], r[1], bool(r[2]), r[3]) for r in session.execute(query)]


def seen_cards_due_before(
    session: Session, user_id: int, end: datetime, topic_id: int | None
) -> list[tuple[datetime, datetime | None]]:
    """(due, buried_until) of every studied, unsuspended card due before `end`."""
    query = select(Card.due, Card.buried_until).where(
        Card.user_id == user_id,
        Card.suspended == false(),  # as ix_cards_queue_seen spells it, so SQLite uses it
        Card.last_review.is_not(None),
        Card.due < end,
    )
    if topic_id is not None:
        query = query.where(Card.topic_id == topic_id)
    return [(r[0], r[1]) for r in session.execute(query)]
