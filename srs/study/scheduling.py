"""Pure FSRS scheduling core: (memory state, rating, time) -> new memory state. No I/O.

A thin, typed layer over py-fsrs so the rest of the service never touches its objects:
the database stores a `MemoryState`, this module turns it into an fsrs.Card and back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Sequence

import fsrs

LEARNING_STEPS = (timedelta(minutes=1), timedelta(minutes=10))
RELEARNING_STEPS = (timedelta(minutes=10),)
DEFAULT_PARAMETERS: tuple[float, ...] = tuple(fsrs.Scheduler().parameters)


class Rating(IntEnum):
    AGAIN = 1
    HARD = 2
    GOOD = 3
    EASY = 4


class State(IntEnum):
    LEARNING = 1
    REVIEW = 2
    RELEARNING = 3


@dataclass(frozen=True)
class MemoryState:
    """What FSRS knows of one card. `last_review is None` means the card was never seen."""

    state: State = State.LEARNING
    step: int | None = 0
    stability: float | None = None
    difficulty: float | None = None
    due: datetime | None = None
    last_review: datetime | None = None

    @property
    def is_new(self) -> bool:
        return self.last_review is None


def utc(moment: datetime) -> datetime:
    """fsrs insists on tzinfo == timezone.utc exactly; databases hand back naive or other tz."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def make_scheduler(
    parameters: Sequence[float] | None = None,
    desired_retention: float = 0.9,
    *,
    fuzz: bool = True,
) -> fsrs.Scheduler:
    return fsrs.Scheduler(
        parameters=tuple(parameters) if parameters else DEFAULT_PARAMETERS,
        desired_retention=desired_retention,
        learning_steps=LEARNING_STEPS,
        relearning_steps=RELEARNING_STEPS,
        enable_fuzzing=fuzz,
    )


def _to_fsrs(memory: MemoryState, card_id: int, now: datetime) -> fsrs.Card:
    return fsrs.Card(
        card_id=card_id,
        state=fsrs.State(int(memory.state)),
        step=memory.step,
        stability=memory.stability,
        difficulty=memory.difficulty,
        due=utc(memory.due) if memory.due else utc(now),
        last_review=utc(memory.last_review) if memory.last_review else None,
    )


def _from_fsrs(card: fsrs.Card) -> MemoryState:
    return MemoryState(
        state=State(int(card.state)),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=card.due,
        last_review=card.last_review,
    )


def review(
    scheduler: fsrs.Scheduler,
    memory: MemoryState,
    rating: Rating,
    now: datetime,
    card_id: int = 0,
) -> MemoryState:
    card, _log = scheduler.review_card(
        _to_fsrs(memory, card_id, now), fsrs.Rating(int(rating)), review_datetime=utc(now)
    )
    return _from_fsrs(card)


def preview_intervals(
    scheduler: fsrs.Scheduler, memory: MemoryState, now: datetime, card_id: int = 0
) -> dict[str, int]:
    """Seconds until the card would come back for each rating (without fuzz, as Anki shows)."""
    plain = make_scheduler(scheduler.parameters, scheduler.desired_retention, fuzz=False)
    now = utc(now)
    return {
        str(int(rating)): max(
            0, round((review(plain, memory, rating, now, card_id).due - now).total_seconds())
        )
        for rating in Rating
    }


def retrievability(scheduler: fsrs.Scheduler, memory: MemoryState, now: datetime) -> float:
    """Predicted probability of recall at `now`; 0 for a card never reviewed."""
    if memory.is_new:
        return 0.0
    return float(scheduler.get_card_retrievability(_to_fsrs(memory, 0, now), utc(now)))


def with_due(memory: MemoryState, due: datetime) -> MemoryState:
    return replace(memory, due=due)
