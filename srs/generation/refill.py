"""When to ask for the next batch, and how long a learner who ran out of cards will wait.

Pure: the inputs are measured elsewhere (generation/pace.py reads them from the database).

A batch asked for now writes its first card after `first_card` seconds and one more every
`per_card` seconds. A learner who takes `learner` seconds a card reaches the k-th card after
the `unseen` ones they have at k-1 + unseen cards from now. They never wait when, for every
card k of the batch,

    first_card + (k - 1) * per_card <= (unseen + k - 1) * learner

which, for k from 1 to the batch size, holds exactly when

    unseen >= (first_card + (batch - 1) * max(0, per_card - learner)) / learner.

So the batch is asked for while fewer unseen cards than that remain (plus one card of margin
for the time it takes to queue and claim the job). A learner faster than the model catches up
with it whatever we do: there the refill point is as high as the bounds allow, so the model
never idles while they study.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

# Seconds between two answers longer than this are a pause, not the learner's pace.
PAUSE_SECONDS = 120.0
# How much of what is left of the plan's card quota the buffer may hold before it is studied.
QUOTA_SHARE = 0.25
MARGIN_CARDS = 1
KEEPS_PACE = 1.5
MAX_BATCH = 50  # the largest batch SRS_BATCH_SIZE allows
# The measured rate leans on the newest batches (an exponential average, this much per batch).
RATE_WEIGHT = 0.3


@dataclass(frozen=True)
class CardRate:
    """How fast this provider writes cards, from the batches it finished."""

    first_card: float  # seconds from a batch's start to its first saved card
    per_card: float  # seconds between two saved cards of a batch


# Before any batch has finished: about the embedded model's warm speed on two cores, so an
# unknown provider is assumed slow (an early refill costs little, a learner waiting costs more).
UNMEASURED = CardRate(first_card=8.0, per_card=5.0)


@dataclass(frozen=True)
class BatchTiming:
    """One finished batch: seconds to its first card, seconds between its cards."""

    first_card: float
    per_card: float | None  # None for a batch that saved a single card


@dataclass(frozen=True)
class RefillInputs:
    rate: CardRate
    learner_pace: float | None  # seconds per card of this learner in this topic; None: unknown
    batch_size: int
    floor: int  # SRS_REFILL_BELOW: the refill point is never lower
    max_unseen: int  # SRS_MAX_UNSEEN: never higher
    quota_left: int | None  # cards left of the plan's quota this period; None: unlimited


def card_rate(batches: Sequence[BatchTiming], prior: CardRate = UNMEASURED) -> CardRate:
    """An exponential average over batches, oldest first; `prior` only while none finished
    (starting from the prior would hide a fast provider for a dozen batches)."""
    if not batches:
        return prior
    first = batches[0].first_card
    timed = [batch.per_card for batch in batches if batch.per_card is not None]
    per = timed[0] if timed else prior.per_card
    for batch in batches[1:]:
        first += RATE_WEIGHT * (batch.first_card - first)
    for seconds in timed[1:]:
        per += RATE_WEIGHT * (seconds - per)
    return CardRate(first_card=first, per_card=per)


def learner_pace(answer_times: Sequence[float]) -> float | None:
    """Median seconds between consecutive answers (timestamps in seconds, any order),
    pauses left out; None with fewer than two answers close together."""
    times = sorted(answer_times)
    gaps = sorted(b - a for a, b in pairwise(times) if 0 < b - a <= PAUSE_SECONDS)
    if not gaps:
        return None
    middle = len(gaps) // 2
    return gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2


def _ceiling(inputs: RefillInputs) -> int:
    ceiling = inputs.max_unseen
    if inputs.quota_left is not None:
        ceiling = min(ceiling, max(inputs.floor, math.floor(inputs.quota_left * QUOTA_SHARE)))
    return ceiling


def refill_threshold(inputs: RefillInputs) -> int:
    """Ask for a batch while fewer than this many unseen cards (ready or in flight) remain."""
    ceiling = _ceiling(inputs)
    if inputs.learner_pace is None:
        return min(inputs.floor, ceiling)  # no pace yet: today's fixed point
    pace = max(inputs.learner_pace, 0.5)
    rate = inputs.rate
    lag = rate.first_card + (inputs.batch_size - 1) * max(0.0, rate.per_card - pace)
    needed = math.ceil(lag / pace) + MARGIN_CARDS
    return max(min(inputs.floor, ceiling), min(needed, ceiling))


def refill_size(inputs: RefillInputs) -> int:
    """Cards to ask for in the refill. A learner who keeps up with the model (answers within
    KEEPS_PACE times its seconds per card) waits at every batch boundary, where the next batch
    pays its prompt and first card: twice the batch halves the boundaries. Bounded like the
    refill point, and never below the usual batch."""
    pace = inputs.learner_pace
    if pace is None or pace >= inputs.rate.per_card * KEEPS_PACE:
        return inputs.batch_size
    return max(inputs.batch_size, min(2 * inputs.batch_size, MAX_BATCH, _ceiling(inputs)))


@dataclass(frozen=True)
class Refill:
    below: int  # ask for a batch while fewer unseen cards than this remain
    size: int  # cards to ask for


def plan(inputs: RefillInputs) -> Refill:
    return Refill(below=refill_threshold(inputs), size=refill_size(inputs))


def eta_seconds(
    rate: CardRate, *, seconds_since_start: float | None, seconds_since_last_card: float | None
) -> int:
    """Seconds until a running (or queued, `seconds_since_start` None) batch's next card."""
    if seconds_since_start is None:
        expected = rate.first_card
    elif seconds_since_last_card is None:
        expected = rate.first_card - seconds_since_start
    else:
        expected = rate.per_card - seconds_since_last_card
    return max(1, math.ceil(expected))
