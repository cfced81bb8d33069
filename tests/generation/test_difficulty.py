from __future__ import annotations

import math
import random
import statistics
from dataclasses import FrozenInstanceError

import pytest

from srs.generation.difficulty import (
    DifficultyState,
    level_for_batch,
    record_first_attempt,
    record_signal,
)

AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4


def settled(level: float = 5.0) -> DifficultyState:
    """A topic with enough history that the learning rate has decayed to its floor."""
    return DifficultyState(level=level, attempts=500, recent_success=0.85)


def test_a_new_topic_starts_at_level_3():
    assert level_for_batch(DifficultyState()) == 3


def test_state_is_immutable():
    with pytest.raises(FrozenInstanceError):
        DifficultyState().level = 5.0  # type: ignore[misc]


@pytest.mark.parametrize("level", [1.0, 3.4, 3.6, 9.0])
def test_three_too_easy_in_a_row_raise_the_next_batch(level):
    state = settled(level)
    before = level_for_batch(state)
    for _ in range(3):
        state = record_signal(state, "too_easy")
    assert level_for_batch(state) > before
    assert state.easy_streak == 3


def test_one_signal_moves_the_next_batch_by_one_level():
    assert level_for_batch(record_signal(settled(5.0), "too_easy")) == 6
    assert level_for_batch(record_signal(settled(5.0), "too_hard")) == 4


def test_repeated_signals_move_further_than_the_first():
    state = settled(3.0)
    steps = []
    for _ in range(4):
        after = record_signal(state, "too_easy")
        steps.append(after.level - state.level)
        state = after
    assert steps == sorted(steps) and steps[-1] > steps[0]


@pytest.mark.parametrize("level", [2.0, 5.4, 5.5, 9.0])
def test_a_run_of_again_lowers_the_next_batch(level):
    state = settled(level)
    before = level_for_batch(state)
    for _ in range(3):
        state = record_first_attempt(state, AGAIN)
    assert level_for_batch(state) < before


def test_a_success_breaks_a_run_of_again():
    state = settled(5.0)
    for rating in (AGAIN, AGAIN, GOOD, AGAIN):
        state = record_first_attempt(state, rating)
    assert state.hard_streak == 1


def test_hard_moves_the_level_between_again_and_good():
    state = settled(5.0)
    again, hard, good = (record_first_attempt(state, r).level for r in (AGAIN, HARD, GOOD))
    assert again < hard < state.level < good
    assert record_first_attempt(state, EASY).level == good


def test_the_level_stays_within_1_and_10():
    low, high = settled(1.0), settled(10.0)
    for _ in range(20):
        low = record_signal(record_first_attempt(low, AGAIN), "too_hard")
        high = record_signal(record_first_attempt(high, EASY), "too_easy")
    assert level_for_batch(low) == 1 and level_for_batch(high) == 10
    # The estimate may sit anywhere in the rounding bucket of 1 or 10, no further.
    assert 0.5 <= low.level and high.level <= 10.5


def test_recent_success_is_the_mean_at_first_then_follows_recent_answers():
    state = DifficultyState()
    for rating in (GOOD, AGAIN, HARD, GOOD):
        state = record_first_attempt(state, rating)
    assert state.attempts == 4
    assert state.recent_success == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    for _ in range(60):
        state = record_first_attempt(state, AGAIN)
    assert state.recent_success < 0.1


def test_signals_do_not_count_as_attempts():
    state = record_signal(DifficultyState(), "too_easy")
    assert state.attempts == 0 and state.recent_success is None


def test_unknown_rating_is_refused():
    with pytest.raises(ValueError):
        record_first_attempt(DifficultyState(), 5)


def _simulate(ability: float, cards: int, seed: int) -> tuple[list[int], list[float]]:
    """Batches of 10 cards at the batch level, difficulty = level + N(0, 0.5), success with
    probability sigmoid(ability - difficulty). Returns each card's level and outcome."""
    rng = random.Random(seed)
    state = DifficultyState()
    levels: list[int] = []
    outcomes: list[float] = []
    while len(levels) < cards:
        level = level_for_batch(state)
        for _ in range(10):
            difficulty = level + rng.gauss(0, 0.5)
            success = rng.random() < 1 / (1 + math.exp(difficulty - ability))
            state = record_first_attempt(state, GOOD if success else AGAIN)
            levels.append(level)
            outcomes.append(1.0 if success else 0.0)
    return levels, outcomes


@pytest.mark.parametrize("ability", [4.0, 7.0, 10.0])
def test_a_simulated_learner_is_brought_near_the_target(ability):
    # Ideal level for 85% success is about ability - logit(0.85) = ability - 1.73 (a little
    # lower with the difficulty noise); levels are integers, so allow one level either way.
    ideal = ability - math.log(0.85 / 0.15)
    levels, outcomes = [], []
    for seed in range(20):
        run_levels, run_outcomes = _simulate(ability, 200, seed)
        levels += run_levels[50:]
        outcomes += run_outcomes[50:]
    assert abs(statistics.fmean(levels) - ideal) < 1.0
    assert abs(statistics.fmean(outcomes) - 0.85) < 0.05
