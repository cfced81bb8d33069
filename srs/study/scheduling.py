"""Pure FSRS scheduling core: (memory state, rating, time) -> new memory state. No I/O.

A thin, typed layer over py-fsrs so the rest of the service never touches its objects:
the database stores a `MemoryState`, this module turns it into an fsrs.Card and back.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum

import fsrs
from fsrs.scheduler import FUZZ_RANGES

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
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


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


def _answer(
    scheduler: fsrs.Scheduler, memory: MemoryState, rating: Rating, now: datetime, card_id: int
) -> MemoryState:
    card, _log = scheduler.review_card(
        _to_fsrs(memory, card_id, now), fsrs.Rating(int(rating)), review_datetime=utc(now)
    )
    return _from_fsrs(card)


_FSRS_RATINGS = {int(r): fsrs.Rating(int(r)) for r in Rating}


def replay(scheduler: fsrs.Scheduler, answers: Sequence[tuple[int, datetime]]) -> list[MemoryState]:
    """Rebuild a card's memory from past answers (rating, time), oldest first: the state before
    each answer, then the state after the last. One py-fsrs step per answer, no fuzz and no
    preview of the other ratings (a 200,000-answer history is replayed in seconds)."""
    card = fsrs.Card(card_id=1)
    states = [MemoryState()]
    for rating, at in answers:
        card, _log = scheduler.review_card(card, _FSRS_RATINGS[rating], review_datetime=utc(at))
        states.append(_from_fsrs(card))
    return states


def fuzz_factor(card_id: int, reps: int) -> float:
    """One draw in [0, 1) per card and review, as Anki seeds its fuzz with the card id and its
    review count: the same answer always gets the same fuzz, so the preview can show it."""
    return random.Random(f"srs-fuzz:{card_id}:{reps}").random()


def fuzzed_days(days: int, factor: float, maximum: int) -> int:
    """py-fsrs's (and Anki's) fuzz ranges, with the draw `factor` instead of a random one."""
    if days < 2.5:
        return days
    delta = 1.0
    for fuzz_range in FUZZ_RANGES:
        delta += fuzz_range["factor"] * max(
            min(float(days), fuzz_range["end"]) - fuzz_range["start"], 0.0
        )
    low, high = max(2, round(days - delta)), min(round(days + delta), maximum)
    low = min(low, high)
    return min(round(factor * (high - low + 1) + low), maximum)


def _review_days(memory: MemoryState, now: datetime) -> int | None:
    if memory.state != State.REVIEW or memory.due is None:
        return None
    return round((utc(memory.due) - utc(now)).total_seconds() / 86_400)


def outcomes(
    scheduler: fsrs.Scheduler,
    memory: MemoryState,
    now: datetime,
    card_id: int = 0,
    reps: int = 0,
) -> dict[Rating, MemoryState]:
    """The memory state each rating would give, fuzz included: what the buttons show is what
    an answer applies. Day intervals keep Anki's order: Hard < Good < Easy when the card was
    in review, and Easy at least a day beyond Good whenever both are days."""
    plain = make_scheduler(scheduler.parameters, scheduler.desired_retention, fuzz=False)
    now = utc(now)
    results = {rating: _answer(plain, memory, rating, now, card_id) for rating in Rating}
    days = {r: d for r, d in ((r, _review_days(m, now)) for r, m in results.items()) if d}
    if scheduler.enable_fuzzing:
        factor = fuzz_factor(card_id, reps)
        maximum = scheduler.maximum_interval
        days = {r: fuzzed_days(d, factor, maximum) for r, d in days.items()}
    if memory.state == State.REVIEW and {Rating.HARD, Rating.GOOD} <= days.keys():
        days[Rating.HARD] = min(days[Rating.HARD], days[Rating.GOOD])
        days[Rating.GOOD] = max(days[Rating.GOOD], days[Rating.HARD] + 1)
    if {Rating.GOOD, Rating.EASY} <= days.keys():
        days[Rating.EASY] = max(days[Rating.EASY], days[Rating.GOOD] + 1)
    for rating, whole_days in days.items():
        results[rating] = replace(results[rating], due=now + timedelta(days=whole_days))
    return results


def review(
    scheduler: fsrs.Scheduler,
    memory: MemoryState,
    rating: Rating,
    now: datetime,
    card_id: int = 0,
    reps: int = 0,
) -> MemoryState:
    return outcomes(scheduler, memory, now, card_id, reps)[rating]


def preview_intervals(
    scheduler: fsrs.Scheduler,
    memory: MemoryState,
    now: datetime,
    card_id: int = 0,
    reps: int = 0,
) -> dict[str, int]:
    """Seconds until the card comes back for each rating: exactly what the answer applies."""
    now = utc(now)
    return {
        str(int(rating)): max(0, round((result.due - now).total_seconds()))
        for rating, result in outcomes(scheduler, memory, now, card_id, reps).items()
    }


def retrievability(scheduler: fsrs.Scheduler, memory: MemoryState, now: datetime) -> float:
    """Predicted probability of recall at `now`; 0 for a card never reviewed."""
    if memory.is_new:
        return 0.0
    return float(scheduler.get_card_retrievability(_to_fsrs(memory, 0, now), utc(now)))


def with_due(memory: MemoryState, due: datetime) -> MemoryState:
    return replace(memory, due=due)
