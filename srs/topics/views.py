"""Turn rows into the API's shapes (a topic with its counts and generation state, a card)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.generation import pace
from srs.generation import repository as generation
from srs.llm.local import notice_for
from srs.study import service as study
from srs.topics.models import Card, Topic
from srs.topics.schemas import CardOut, Counts, Generation, TopicOut


def card_out(card: Card) -> CardOut:
    return CardOut(
        id=card.id,
        topic_id=card.topic_id,
        front=card.front,
        back=card.back,
        extra=card.extra or None,
        state=study.card_state_name(card),
        due=card.due,
        level=card.level,
        model=card.model,
        model_notice=notice_for(card.model),
        reps=card.reps,
        lapses=card.lapses,
        suspended=card.suspended,
        buried_until=card.buried_until,
        flag_reason=card.flag_reason,
        created_at=card.created_at,
    )


def counts_out(counts: study.Counts) -> Counts:
    return Counts(new=counts.new, learning=counts.learning, review=counts.review, ready=counts.ready)


def generation_out(topic: Topic, in_flight: int = 0, eta_seconds: int | None = None) -> Generation:
    return Generation(
        status=topic.generation_status,  # type: ignore[arg-type]
        error=topic.generation_error,
        cards_in_flight=in_flight,
        eta_seconds=eta_seconds,
    )


def topic_out(
    session: Session, user: User, topic: Topic, now: datetime, new_per_day: int
) -> TopicOut:
    difficulty = topic.difficulty_state or {}
    counts = study.counts(session, user, topic, now, new_per_day)
    eta = pace.eta_seconds(session, topic.id, now) if counts.ready == 0 else None
    return TopicOut(
        id=topic.id,
        title=topic.title,
        prompt=topic.prompt,
        level=max(1, min(10, round(topic.level))),
        level_estimate=round(topic.level, 3),
        recent_success=difficulty.get("recent_success"),
        new_per_day=study.new_limit(topic, new_per_day),
        counts=counts_out(counts),
        generation=generation_out(topic, generation.cards_in_flight(session, topic.id), eta),
        created_at=topic.created_at,
        last_studied_at=topic.last_studied_at,
    )
