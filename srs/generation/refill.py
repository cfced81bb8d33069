"""When to ask for the next batch, and how long a learner who ran out of cards will wait.

Pure: the inputs are measured elsewhere (generation/pace.py reads them from the database).

A batch asked for now writes its first card after `first_card` seconds and one more every
`per_card` seconds. A learner who takes `learner` seconds a card reaches the k-th card after
the `unseen` ones they have at k-1 + unseen cards from now. They never wait when, for every
card k of the batch,

    first_card + (k - 1) * per_card <= (unseen + k - 1) * learner

which, for k from 1 to the batch size (of the batch the refill asks for), holds exactly when

    unseen >= (first_card + (batch - 1) * max(0, per_card - learner)) / learner.

So the batch is asked for while fewer unseen cards than that remain (plus one card of margin
for the time it takes to queue and claim the job). A learner faster than the model catches up
with it whatever we do: there the refill point is as high as the bounds allow, so the model
never idles while they study.

A topic writes one batch at a time, and each batch pays its prompt and first card again. A
learner who keeps pace with the model builds no buffer during a batch, so they wait at its
end, while the next batch writes its first card. The first batch of a topic is the one that
matters most: it starts with an empty buffer and is asked for before the learner has answered
anything. So, until the learner's pace is measured, the batch is sized for a brisk learner:
with a slow provider (the embedded model, about 5 s a card) it is twice the usual batch, and
a learner who keeps pace ends it several cards ahead, enough to cover the next first card.
With a fast provider (a remote API, well under a second a card) nothing changes.

Bounds: never more unseen cards than SRS_MAX_UNSEEN, and never more than a quarter of what is
left of the plan's card quota (a learner who leaves has not spent the rest of their period's
cards on a buffer they will not study); never below the usual batch or SRS_REFILL_BELOW.
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
# Before a learner has answered twice, plan for a brisk one: about the fastest a person reads,
# answers and rates a card. A slower learner costs at most one batch written ahead.
BRISK_PACE = 3.0
MAX_BATCH = 50  # the largest batch SRS_BATCH_SIZE allows
# The measured rate leans on the newest batches (an exponential average, this much per batch).
RATE_WEIGHT = 0.3


@dataclass(frozen=True)
class CardRate:
    """How fast this provider writes cards, from the batches it finished."""

    first_card: float  # seconds from a batch's start to its first saved card
    per_card: float  # seconds between two saved cards of a batch


# Before any batch has finished: about the embedded model's warm speed on two cores, so the
# embedded model (and, for the ETA, any provider) is assumed slow: an early or larger refill
# costs little, a learner waiting costs more.
UNMEASURED = CardRate(first_card=8.0, per_card=5.0)
# A hosted API (SRS_LLM_PROVIDER openai or anthropic) before its first batch: a card in about a
# second. It sizes the first batch of the first topics like today's (a brisk learner does not
# keep pace with it); its measured speed replaces it after one batch.
HOSTED = CardRate(first_card=2.0, per_card=1.0)


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
    # The batch this refill asks for: a larger one falls further behind a faster learner.
    size = refill_size(inputs)
    lag = rate.first_card + (size - 1) * max(0.0, rate.per_card - pace)
    needed = math.ceil(lag / pace) + MARGIN_CARDS
    return max(min(inputs.floor, ceiling), min(needed, ceiling))


def refill_size(inputs: RefillInputs) -> int:
    """Cards to ask for in the refill. A learner who keeps up with the model (answers within
    KEEPS_PACE times its seconds per card) waits at every batch boundary, where the next batch
    pays its prompt and first card: twice the batch halves the boundaries, and gives the learner
    time to get ahead of the model before the next one. A learner whose pace is not known yet
    (the first batch of a topic) is taken for a brisk one. Bounded like the refill point, and
    never below the usual batch."""
    pace = BRISK_PACE if inputs.learner_pace is None else inputs.learner_pace
    if pace >= inputs.rate.per_card * KEEPS_PACE:
        return inputs.batch_size
    return max(inputs.batch_size, min(2 * inputs.batch_size, MAX_BATCH, _ceiling(inputs)))


@dataclass(frozen=True)
class Refill:
    below: int  # ask for a batch while fewer unseen cards than this remain
    size: int  # cards to ask for


def plan(inputs: RefillInputs) -> Refill:
    return Refill(below=refill_threshold(inputs), size=refill_size(inputs))


def plan_from(
    batches: Sequence[BatchTiming],
    answer_times: Sequence[float],
    *,
    batch_size: int,
    floor: int,
    max_unseen: int,
    quota_left: int | None,
    prior: CardRate = UNMEASURED,
) -> Refill:
    """The plan from what was measured: the provider's finished batches (oldest first) and
    this learner's answer times in this topic; `prior` is the provider's speed until a batch
    has finished. The service (pace.refill_plan) and the buffer bench (bench/buffer_sim.py)
    both decide through here."""
    return plan(
        RefillInputs(
            rate=card_rate(batches, prior),
            learner_pace=learner_pace(answer_times),
            batch_size=batch_size,
            floor=floor,
            max_unseen=max_unseen,
            quota_left=quota_left,
        )
    )


def wants_batch(unseen: int, refill: Refill, floor: int) -> bool:
    """With no batch under way: ask for one now? (Below the plan's point, and never later
    than the fixed SRS_REFILL_BELOW, even when the bounds hold the plan's point under it.)"""
    return unseen < max(refill.below, floor)


def highest_point(floor: int, max_unseen: int) -> int:
    """No plan asks for a batch with this many unseen cards, whatever the pace, the rate and
    the quota: the refill point is at most max(floor, ceiling) and the ceiling at most
    `max_unseen` (see refill_threshold and wants_batch)."""
    return max(floor, max_unseen)


def highest_point_at(rate: CardRate, *, batch_size: int, floor: int, max_unseen: int) -> int:
    """No plan at this provider `rate` asks for a batch with this many unseen cards, whatever
    the learner's pace and the quota. The refill point only rises as the pace quickens (a
    larger batch, a longer lag, fewer seconds a card) up to the 0.5 s floor on the pace, and as
    the quota's ceiling rises, up to `max_unseen` with no quota: so the point of the fastest
    learner with no quota is the highest."""
    fastest = RefillInputs(
        rate=rate,
        learner_pace=0.0,  # faster than any measured pace (gaps are > 0), clamped to 0.5 s
        batch_size=batch_size,
        floor=floor,
        max_unseen=max_unseen,
        quota_left=None,
    )
    return max(refill_threshold(fastest), floor)


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
