"""Adaptive difficulty: the level (1-10) at which a topic's new cards are generated. No I/O.

Goal: a learner's first attempt on a new card succeeds about `target` (85%) of the time.

The level is a float estimate moved by stochastic approximation (Robbins-Monro):
`level += rate * (outcome - target)` after each first attempt. Its fixed point is the level at
which the expected outcome equals the target. Outcomes are noisy coin flips, so the rate decides
the trade-off:
- a large rate finds a distant level quickly but keeps the estimate jittering, and because a
  batch of 10 cards is generated at one level, a large rate overshoots and oscillates: near the
  target one batch moves the level by about 10 * rate * p(1-p) ~ 1.2 * rate times the error, so
  rate must stay well under ~0.8 to settle without ringing;
- so the rate starts high and decays with the number of attempts (the classic 1/n schedule
  that makes the estimate converge), down to a floor that still tracks a learner who improves.
Explicit signals ("too easy" / "too hard") are rarer and deliberate, so they move a whole level.

The estimate is clamped to [0.5, 10.5], the outer edges of the rounding buckets of levels 1 and
10, not to [1, 10]: a learner whose ideal level is near 1 sits in bucket 1, and clamping at 1.0
would throw away the downward half of the steps there and bias them towards level 2 (in
bench/difficulty_sim.py, ability 3 succeeded 81% instead of 83%). Batches always get 1..10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

MIN_LEVEL = 1
MAX_LEVEL = 10
DEFAULT_LEVEL = 3.0

# rate(n) = max(RATE_FLOOR, RATE_START / (1 + n / RATE_DECAY_ATTEMPTS)), tuned with
# bench/difficulty_sim.py. Far from the ideal level nearly every answer is a success, worth only
# 0.15 * rate, so the rate starts high (climbing from 3 to 9 takes three batches); by the
# fifth batch (rate 0.6, batch gain ~0.8) a batch no longer overshoots. The floor keeps tracking a
# learner who improves, with a level jitter of about sqrt(rate / 2) = 0.4.
RATE_START = 3.0
RATE_DECAY_ATTEMPTS = 10
RATE_FLOOR = 0.3

# One signal moves exactly one rounded level, so the learner sees the next batch change; repeated
# signals in the same direction mean the level is far off (the per-card rule climbs only
# 0.15 * rate per success), so they grow by half a level each, up to two levels.
SIGNAL_STEP = 1.0
SIGNAL_STEP_GROWTH = 0.5
SIGNAL_STEP_MAX = 2.0

# Three Again in a row on new cards: the learner is out of their depth. At 85% success this run
# happens by chance on ~0.3% of cards, so forcing the next batch a level lower costs little.
AGAIN_RUN = 3

# recent_success is a plain mean over the first RECENT_WINDOW attempts, then an exponentially
# weighted mean over roughly the last RECENT_WINDOW attempts (what the learner is shown).
RECENT_WINDOW = 20

OUTCOME_BY_RATING = {1: 0.0, 2: 0.5, 3: 1.0, 4: 1.0}

Signal = Literal["too_easy", "too_hard"]


@dataclass(frozen=True)
class DifficultyState:
    """Per-topic controller state. Streaks count consecutive evidence in one direction:
    easy_streak counts "too_easy" signals, hard_streak counts "too_hard" signals and Again."""

    level: float = DEFAULT_LEVEL
    attempts: int = 0
    recent_success: float | None = None
    easy_streak: int = 0
    hard_streak: int = 0


def learning_rate(attempts: int) -> float:
    return max(RATE_FLOOR, RATE_START / (1 + attempts / RATE_DECAY_ATTEMPTS))


def record_first_attempt(
    state: DifficultyState, rating: int, target: float = 0.85
) -> DifficultyState:
    """Update after the first attempt on a new card (rating 1-4: Again, Hard, Good, Easy)."""
    if rating not in OUTCOME_BY_RATING:
        raise ValueError(f"rating must be 1-4, got {rating}")
    outcome = OUTCOME_BY_RATING[rating]
    level = state.level + learning_rate(state.attempts) * (outcome - target)
    hard_streak = state.hard_streak + 1 if outcome == 0.0 else 0
    if hard_streak >= AGAIN_RUN:
        # The SA steps alone may leave the rounded level unchanged; the run must show.
        level = min(level, level_for_batch(state) - 1.0)
    return replace(
        state,
        level=_clamp(level),
        attempts=state.attempts + 1,
        recent_success=_recent(state.recent_success, outcome, state.attempts + 1),
        easy_streak=0 if outcome == 0.0 else state.easy_streak,
        hard_streak=hard_streak,
    )


def record_signal(state: DifficultyState, signal: Signal) -> DifficultyState:
    """The learner said the cards are too easy or too hard."""
    if signal == "too_easy":
        streak = state.easy_streak + 1
        return replace(
            state,
            level=_clamp(state.level + _signal_step(streak)),
            easy_streak=streak,
            hard_streak=0,
        )
    streak = state.hard_streak + 1
    return replace(
        state,
        level=_clamp(state.level - _signal_step(streak)),
        easy_streak=0,
        hard_streak=streak,
    )


def level_for_batch(state: DifficultyState) -> int:
    return batch_level(state.level)


def batch_level(estimate: float) -> int:
    """The integer level a batch is generated at, and the one the learner is shown. Rounds
    half up (Python's round() would round 2.5 to 2 but 3.5 to 4)."""
    return min(MAX_LEVEL, max(MIN_LEVEL, math.floor(estimate + 0.5)))


def _signal_step(streak: int) -> float:
    return min(SIGNAL_STEP + SIGNAL_STEP_GROWTH * (streak - 1), SIGNAL_STEP_MAX)


def _recent(previous: float | None, outcome: float, attempts: int) -> float:
    if previous is None:
        return outcome
    weight = 1 / min(attempts, RECENT_WINDOW)
    return previous + weight * (outcome - previous)


def _clamp(level: float) -> float:
    return min(MAX_LEVEL + 0.5, max(MIN_LEVEL - 0.5, level))
