"""The study loop: which card comes next, answering it with FSRS, and undoing an answer exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.db import utcnow
from srs.kit.errors import conflict, not_found
from srs.kit.settings import Settings
from srs.metering import service as metering
from srs.study import repository, scheduling
from srs.study.clock import day_bounds, start_of_tomorrow
from srs.study.models import ReviewLog
from srs.study.scheduling import MemoryState, Rating, State
from srs.topics import service as topics
from srs.topics.models import Card, Topic

SNAPSHOT_FIELDS = (
    "state",
    "step",
    "stability",
    "difficulty",
    "due",
    "last_review",
    "reps",
    "lapses",
)
# Restored by undo besides the scheduling: an answer un-buries the card it answers.
UNDONE_FIELDS = (*SNAPSHOT_FIELDS, "buried_until")
_DATETIMES = {"due", "last_review", "buried_until"}
# The latest answers in a topic that measure the learner's pace (generation's refill).
RECENT_ANSWERS = 12


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


def counts_of(
    session: Session, user: User, topics: list[Topic], now: datetime, new_per_day: int
) -> dict[int, Counts]:
    """Each topic's counts by its id, in one read however many topics."""
    day_start, _ = day_bounds(now, user.timezone)
    read = repository.counts_of(session, [topic.id for topic in topics], now, day_start)
    return {topic.id: _counts(*read[topic.id], new_limit(topic, new_per_day)) for topic in topics}


def _counts(learning: int, review: int, unseen: int, studied: int, limit: int) -> Counts:
    new_left = max(0, limit - studied)
    return Counts(new=min(unseen, new_left), learning=learning, review=review, ready=unseen)


def next_card(
    session: Session, user: User, topic: Topic, now: datetime, new_per_day: int
) -> NextCard:
    """Due learning and review cards first (most overdue first), then new cards within the
    daily limit; the counts and the card (with its subtopic and citation) in one read."""
    day_start, _ = day_bounds(now, user.timezone)
    limit = new_limit(topic, new_per_day)
    queue = repository.next_in_queue(session, topic.id, now, day_start, limit)
    current = _counts(queue.learning, queue.review, queue.unseen, queue.new_studied, limit)
    card = queue.card
    intervals = None
    if card is not None:
        intervals = scheduling.preview_intervals(
            scheduler_for(user), memory_of(card), now, card.id, card.reps
        )
    return NextCard(
        card=card,
        intervals=intervals,
        counts=current,
        next_due=None if card else queue.next_due,
        new_limit_reached=current.ready > 0 and current.new == 0,
    )


def _snapshot(card: Card) -> dict:
    return {
        name: (getattr(card, name).isoformat() if getattr(card, name) else None)
        if name in _DATETIMES
        else getattr(card, name)
        for name in UNDONE_FIELDS
    }


def parse_snapshot(snapshot: dict) -> dict:
    """A log's `card_before` with its dates as datetimes (older logs lack `buried_until`)."""
    return {
        name: datetime.fromisoformat(snapshot[name])
        if name in _DATETIMES and snapshot[name] is not None
        else snapshot[name]
        for name in UNDONE_FIELDS
        if name in snapshot
    }


def _restore(card: Card, snapshot: dict) -> None:
    for name, value in parse_snapshot(snapshot).items():
        setattr(card, name, value)


@dataclass(frozen=True)
class Answer:
    card: Card
    log: ReviewLog | None  # None for a repeat
    topic: Topic  # the card's topic, locked until commit
    repeated: bool  # the review_id was seen before: nothing was reviewed this time
    # What the buffer check read of the topic's generation (opaque here: the next-card view
    # shows it, so a step reads it once); None when it was not read.
    generation: Any = None
    # When the topic's latest answers were given, newest first, this one included (the
    # learner's pace for the buffer check), read with the card.
    recent_answers: list[datetime] = field(default_factory=list)


def review_once(
    session: Session,
    user: User,
    card_id: int,
    rating: int,
    duration_ms: int | None,
    review_id: str | None,
) -> Answer:
    """Review unless this review_id was answered before; then the first answer stands.
    The new log is added, not yet written (see `answer`)."""
    # The card is locked first thing: a repeat sent while the first is in flight waits for
    # it and then finds the first answer committed.
    card, topic, answered_card, earlier = _locked_card(session, user, card_id, review_id)
    if answered_card is not None:
        if answered_card != card.id:
            raise conflict("This review_id was already used for another card")
        return Answer(card=card, log=None, topic=topic, repeated=True)
    log = _answer(session, user, card, topic, rating, duration_ms, utcnow(), review_id)
    recent = sorted([*earlier, log.reviewed_at], reverse=True)[:RECENT_ANSWERS]
    return Answer(card=card, log=log, topic=topic, repeated=False, recent_answers=recent)


def _locked_card(
    session: Session, user: User, card_id: int, review_id: str | None
) -> tuple[Card, Topic, int | None, list[datetime]]:
    found = repository.card_to_answer(session, user.id, card_id, review_id, RECENT_ANSWERS)
    if found is None:
        raise not_found("Card not found")
    return found


class AfterReview(Protocol):
    """What generation does once a card is answered (the generation service)."""

    def steer_level(self, topic: Topic, card: Card, log: ReviewLog) -> None: ...

    def ensure_buffer(
        self, session: Session, topic: Topic, recent_answers: Sequence[datetime] | None = None
    ) -> Any: ...


def answer(
    session: Session,
    user: User,
    card_id: int,
    rating: int,
    duration_ms: int | None,
    review_id: str | None,
    generation: AfterReview,
) -> Answer:
    """One answer from the study loop: reviewed once per review_id; a first attempt at a
    generated card moves the topic's level (under the topic's row lock, taken by the review)
    and the answer records where it left it; then the next batch is asked for if it is time.
    The log, the card and the topic are written together, once the level has moved."""
    result = review_once(session, user, card_id, rating, duration_ms, review_id)
    if result.log is not None:
        generation.steer_level(result.topic, result.card, result.log)
        record_topic_after(result.log, result.topic)
        repository.write_answer(session, result.log, result.card, result.topic)
        seen = generation.ensure_buffer(session, result.topic, result.recent_answers)
        result = replace(result, generation=seen)
    return result


def record_topic_after(log: ReviewLog, topic: Topic) -> None:
    """What the answer left the topic's difficulty at, so undo can take back the answer's own
    change and keep anything pressed since (a "too easy" after the answer survives)."""
    before = dict(log.topic_before or {})
    before["after"] = {"level": topic.level, "difficulty_state": topic.difficulty_state}
    log.topic_before = before


def _undo_topic(topic: Topic, recorded: dict) -> None:
    after = recorded.get("after")
    now = {"level": topic.level, "difficulty_state": topic.difficulty_state}
    if after is None or now == after:  # nothing changed since the answer
        topic.level, topic.difficulty_state = recorded["level"], recorded["difficulty_state"]
        return
    topic.level = topic.level - (after["level"] - recorded["level"])
    state = dict(topic.difficulty_state or {})
    before_state, after_state = recorded["difficulty_state"] or {}, after["difficulty_state"] or {}
    for key, value in after_state.items():
        if key != "level" and before_state.get(key) != value and state.get(key) == value:
            state[key] = before_state.get(key)
    if state:
        state["level"] = topic.level
    topic.difficulty_state = state or None


def topic_history(session: Session, topic_id: int) -> list[ReviewLog]:
    """Every answer in a topic, oldest first."""
    return repository.topic_logs(session, topic_id)


def review(
    session: Session,
    user: User,
    card_id: int,
    rating: int,
    duration_ms: int | None,
    now: datetime | None = None,
) -> tuple[Card, ReviewLog]:
    card, topic, _, _ = _locked_card(session, user, card_id, None)
    log = _answer(session, user, card, topic, rating, duration_ms, now or utcnow(), None)
    repository.write_answer(session, log, card, topic)
    return card, log


def _answer(
    session: Session,
    user: User,
    card: Card,
    topic: Topic,
    rating: int,
    duration_ms: int | None,
    now: datetime,
    review_id: str | None,
) -> ReviewLog:
    """`card` and `topic` locked until commit: the level update (steer_level) rewrites the
    topic's difficulty_state from this read."""
    if card.suspended:
        raise conflict("This card is suspended; unsuspend it to review it")
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
    memory = scheduling.review(
        scheduler_for(user), memory_of(card), Rating(rating), now, card.id, card.reps
    )
    if card.state == State.REVIEW and rating == Rating.AGAIN:
        card.lapses += 1
    card.state, card.step = int(memory.state), memory.step
    card.stability, card.difficulty = memory.stability, memory.difficulty
    card.due, card.last_review = memory.due, memory.last_review
    card.reps += 1
    card.buried_until = None
    topic.last_studied_at = now
    return log


def undo_last(session: Session, user: User, topic_id: int) -> Card:
    topic = topics.get_topic(session, user, topic_id)
    log = repository.last_log(session, user.id, topic.id)
    if log is None:
        raise conflict("There is no answer to undo in this topic")
    card = topics.get_card(session, user, log.card_id, lock=True)
    _restore(card, log.card_before)
    if log.topic_before is not None:
        _undo_topic(topic, log.topic_before)
    repository.delete_log(session, log)
    return card


def set_suspended(session: Session, user: User, card_id: int, suspended: bool) -> Card:
    """Unsuspending a flagged card takes its flag back (see unflag): a refunded card cannot
    come back into study without being billed again."""
    card = topics.get_card(session, user, card_id, lock=True)
    if not suspended and card.flagged_at is not None:
        return unflag(session, user, card_id)
    card.suspended = suspended
    if not suspended:
        card.retired_reason = None  # a retired card brought back is studied again
    session.flush()
    return card


def bury(session: Session, user: User, card_id: int, now: datetime | None = None) -> Card:
    card = topics.get_card(session, user, card_id)
    card.buried_until = start_of_tomorrow(now or utcnow(), user.timezone)
    session.flush()
    return card


def flag(session: Session, settings: Settings, user: User, card_id: int, reason: str) -> Card:
    """A flagged card leaves the study queue (it is suspended). A generated card may be
    refunded to the quota, under metering's capped rule."""
    now = utcnow()
    card = topics.get_card(session, user, card_id, lock=True)
    card.flag_reason = reason
    card.flagged_at = card.flagged_at or now
    card.suspended = True
    session.flush()
    answered_well = repository.ever_answered_well(session, card.id)
    metering.refund_flagged(session, settings, user, card, answered_well=answered_well, now=now)
    return card


def unflag(session: Session, user: User, card_id: int) -> Card:
    """Take a flag back: the card returns to study, and a refunded card is billed again."""
    card = topics.get_card(session, user, card_id, lock=True)
    card.flag_reason = None
    card.flagged_at = None
    card.suspended = False
    session.flush()
    metering.rebill_unflagged(session, user, card)
    return card


def review_history(session: Session, user: User) -> Iterator[ReviewLog]:
    """All the learner's answers, oldest first, streamed (for the data export)."""
    return repository.iter_user_logs(session, user.id)


@dataclass(frozen=True)
class PastAnswer:
    """An answer given elsewhere (an imported review log), with the card as it was before."""

    card_id: int
    topic_id: int
    user_id: int
    rating: int
    reviewed_at: datetime
    duration_ms: int | None
    before: MemoryState
    reps_before: int
    lapses_before: int


def _memory_snapshot(memory: MemoryState, reps: int, lapses: int, at: datetime) -> dict:
    due = memory.due or at  # a card never seen was due when it was first answered
    return {
        "state": int(memory.state),
        "step": memory.step,
        "stability": memory.stability,
        "difficulty": memory.difficulty,
        "due": due.isoformat(),
        "last_review": memory.last_review.isoformat() if memory.last_review else None,
        "reps": reps,
        "lapses": lapses,
    }


def add_past_answers(session: Session, answers: list[PastAnswer]) -> None:
    """Imported history: it feeds the FSRS fitting and the exports like the learner's own."""
    repository.add_logs_bulk(
        session,
        [
            (
                a.card_id,
                a.topic_id,
                a.user_id,
                a.rating,
                a.reviewed_at,
                a.duration_ms,
                a.before.is_new,
                json.dumps(
                    _memory_snapshot(a.before, a.reps_before, a.lapses_before, a.reviewed_at)
                ),
            )
            for a in answers
        ],
    )


def recent_review_times(
    session: Session, topic_id: int, limit: int = RECENT_ANSWERS
) -> list[datetime]:
    """When this topic's latest answers were given, newest first (the learner's pace)."""
    return repository.recent_review_times(session, topic_id, limit)
