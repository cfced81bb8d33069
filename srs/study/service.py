"""The study loop: which card comes next, answering it with FSRS, and undoing an answer exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.db import utcnow
from srs.kit.errors import conflict
from srs.study import repository, scheduling
from srs.study.clock import day_bounds, start_of_tomorrow
from srs.study.models import ReviewLog
from srs.study.scheduling import MemoryState, Rating, State
from srs.topics import service as topics
from srs.topics.models import Card, Topic

_SNAPSHOT = ("state", "step", "stability", "difficulty", "due", "last_review", "reps", "lapses")
_DATETIMES = {"due", "last_review"}


@dataclass(frozen=True)
class Counts:
    new: int
    learning: int
    review: int
    ready: int


@dataclass(frozen=True)
class NextCard:
    card: Card | None
    intervals: dict[str, int] | None
    counts: Counts
    next_due: datetime | None
    new_limit_reached: bool


def scheduler_for(user: User, *, fuzz: bool = True):
    return scheduling.make_scheduler(user.fsrs_parameters, user.desired_retention, fuzz=fuzz)


def memory_of(card: Card) -> MemoryState:
    return MemoryState(
        state=State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=card.due,
        last_review=card.last_review,
    )


def card_state_name(card: Card) -> str:
    if card.last_review is None:
        return "new"
    return {1: "learning", 2: "review", 3: "relearning"}[card.state]


def new_limit(topic: Topic, default: int) -> int:
    return topic.new_per_day if topic.new_per_day is not None else default


def _new_left_today(session: Session, user: User, topic: Topic, now: datetime, default: int) -> int:
    day_start, _ = day_bounds(now, user.timezone)
    studied = repository.new_cards_studied(session, topic.id, day_start)
    return max(0, new_limit(topic, default) - studied)


def counts(session: Session, user: User, topic: Topic, now: datetime, new_per_day: int) -> Counts:
    learning, review, unseen = repository.due_counts(session, topic.id, now)
    new_left = _new_left_today(session, user, topic, now, new_per_day)
    return Counts(new=min(unseen, new_left), learning=learning, review=review, ready=unseen)


def next_card(
    session: Session, user: User, topic: Topic, now: datetime, new_per_day: int
) -> NextCard:
    """Due learning and review cards first (most overdue first), then new cards within the
    daily limit."""
    current = counts(session, user, topic, now, new_per_day)
    card = repository.first_due_card(session, topic.id, now)
    if card is None and current.new > 0:
        card = repository.first_new_card(session, topic.id, now)
    intervals = None
    if card is not None:
        intervals = scheduling.preview_intervals(scheduler_for(user), memory_of(card), now, card.id)
    return NextCard(
        card=card,
        intervals=intervals,
        counts=current,
        next_due=None if card else repository.next_due_time(session, topic.id, now),
        new_limit_reached=current.ready > 0 and current.new == 0,
    )


def _snapshot(card: Card) -> dict:
    return {
        name: (getattr(card, name).isoformat() if getattr(card, name) else None)
        if name in _DATETIMES
        else getattr(card, name)
        for name in _SNAPSHOT
    }


def _restore(card: Card, snapshot: dict) -> None:
    for name in _SNAPSHOT:
        value = snapshot[name]
        if name in _DATETIMES and value is not None:
            value = datetime.fromisoformat(value)
        setattr(card, name, value)


@dataclass(frozen=True)
class Answer:
    card: Card
    log: ReviewLog
    repeated: bool  # the review_id was seen before: nothing was reviewed this time


def review_once(
    session: Session,
    user: User,
    card_id: int,
    rating: int,
    duration_ms: int | None,
    review_id: str | None,
) -> Answer:
    """Review unless this review_id was answered before; then the first answer stands."""
    # The card lock comes first: a repeat sent while the first is in flight waits here and
    # then finds the first answer committed.
    card = topics.get_card(session, user, card_id, lock=True)
    first = repository.log_by_review_id(session, user.id, review_id) if review_id else None
    if first is not None:
        if first.card_id != card.id:
            raise conflict("This review_id was already used for another card")
        return Answer(card=card, log=first, repeated=True)
    log = _answer(session, user, card, rating, duration_ms, utcnow(), review_id)
    return Answer(card=card, log=log, repeated=False)


def review(
    session: Session,
    user: User,
    card_id: int,
    rating: int,
    duration_ms: int | None,
    now: datetime | None = None,
) -> tuple[Card, ReviewLog]:
    card = topics.get_card(session, user, card_id, lock=True)
    return card, _answer(session, user, card, rating, duration_ms, now or utcnow(), None)


def _answer(
    session: Session,
    user: User,
    card: Card,
    rating: int,
    duration_ms: int | None,
    now: datetime,
    review_id: str | None,
) -> ReviewLog:
    if card.suspended:
        raise conflict("This card is suspended; unsuspend it to review it")
    # Locked until commit: after_review rewrites the topic's difficulty state from this read.
    topic = topics.get_topic(session, user, card.topic_id, lock=True)
    log = ReviewLog(
        card_id=card.id,
        topic_id=card.topic_id,
        user_id=user.id,
        rating=rating,
        reviewed_at=now,
        duration_ms=duration_ms,
        first_attempt=card.last_review is None,
        card_before=_snapshot(card),
        topic_before={"level": topic.level, "difficulty_state": topic.difficulty_state},
        review_id=review_id,
    )
    memory = scheduling.review(scheduler_for(user), memory_of(card), Rating(rating), now, card.id)
    if card.state == State.REVIEW and rating == Rating.AGAIN:
        card.lapses += 1
    card.state, card.step = int(memory.state), memory.step
    card.stability, card.difficulty = memory.stability, memory.difficulty
    card.due, card.last_review = memory.due, memory.last_review
    card.reps += 1
    card.buried_until = None
    topic.last_studied_at = now
    repository.add_log(session, log)
    return log


def undo_last(session: Session, user: User, topic_id: int) -> Card:
    topic = topics.get_topic(session, user, topic_id)
    log = repository.last_log(session, user.id, topic.id)
    if log is None:
        raise conflict("There is no answer to undo in this topic")
    card = topics.get_card(session, user, log.card_id, lock=True)
    _restore(card, log.card_before)
    if log.topic_before is not None:
        topic.level = log.topic_before["level"]
        topic.difficulty_state = log.topic_before["difficulty_state"]
    repository.delete_log(session, log)
    return card


def set_suspended(session: Session, user: User, card_id: int, suspended: bool) -> Card:
    card = topics.get_card(session, user, card_id)
    card.suspended = suspended
    session.flush()
    return card


def bury(session: Session, user: User, card_id: int, now: datetime | None = None) -> Card:
    card = topics.get_card(session, user, card_id)
    card.buried_until = start_of_tomorrow(now or utcnow(), user.timezone)
    session.flush()
    return card


def flag(session: Session, user: User, card_id: int, reason: str) -> Card:
    card = topics.get_card(session, user, card_id)
    card.flag_reason = reason
    card.flagged_at = utcnow()
    session.flush()
    return card
