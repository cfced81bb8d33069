from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from fsrs_rs_python import FSRSItem

from srs.study.fitting import ReviewRecord, build_items, elapsed_days, fit_parameters
from srs.study.scheduling import (
    DEFAULT_PARAMETERS,
    MemoryState,
    Rating,
    make_scheduler,
    retrievability,
    review,
)

START = datetime(2024, 1, 1, 12, tzinfo=UTC)  # noon: calendar days = 24-hour periods

# A learner who forgets faster than FSRS's average user: lower initial stabilities, slower
# stability growth on recall, a steeper forgetting curve.
LEARNER = list(DEFAULT_PARAMETERS)
LEARNER[0:4] = [0.1, 0.3, 0.8, 3.0]
LEARNER[8] = 1.2
LEARNER[20] = 0.4


def steps(item: FSRSItem) -> list[tuple[int, int]]:
    # FSRSReview exposes no attributes; its repr is "FSRSReview { rating: 3, delta_t: 2 }".
    return [(int(r), int(d)) for r, d in re.findall(r"rating: (\d), delta_t: (\d+)", repr(item))]


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


def test_items_hold_each_card_history_up_to_each_later_day_review():
    reviews = [
        ReviewRecord(7, 3, at(3)),  # out of order on purpose
        ReviewRecord(7, 1, at(0)),
        ReviewRecord(7, 3, at(0, minute=10)),  # same day: history only, not a target
        ReviewRecord(9, 3, at(0)),  # a single review predicts nothing
        ReviewRecord(7, 1, at(10)),
    ]
    items = build_items(reviews)
    assert [steps(item) for item in items] == [
        [(1, 0), (3, 0), (3, 3)],
        [(1, 0), (3, 0), (3, 3), (1, 7)],
    ]


def test_days_roll_over_at_the_learners_day_start():
    evening, night, morning = at(0, 20), at(0, 23, 30), at(1, 3)
    # The default day starts at 04:00 UTC: 20:00 and 03:00 the next night are the same day.
    assert elapsed_days(evening, morning) == 0
    assert elapsed_days(evening, at(1, 5)) == 1
    # For a learner whose day starts at midnight UTC they are a day apart.
    assert elapsed_days(night, morning, day_start=timedelta(0)) == 1


def simulate(parameters: Sequence[float], cards: int, seed: int) -> list[ReviewRecord]:
    """Cards reviewed by a learner whose memory follows FSRS with `parameters`: recall with
    probability R at each review, reviews spread from 0.3x to 3x the true stability so the
    log holds both easy and overdue reviews."""
    rng = random.Random(seed)
    truth = make_scheduler(parameters, fuzz=False)
    records = []
    for card in range(cards):
        memory, day = MemoryState(), rng.randrange(30)
        rating = rng.choices([1, 2, 3, 4], weights=[3, 1, 5, 1])[0]
        for _ in range(8):
            records.append(ReviewRecord(card, rating, at(day)))
            memory = review(truth, memory, Rating(rating), at(day), card)
            day += max(1, round(memory.stability * rng.uniform(0.3, 3.0)))
            recalled = rng.random() < retrievability(truth, memory, at(day))
            rating = rng.choices([2, 3, 4], weights=[1, 8, 1])[0] if recalled else 1
    return records


def log_loss(reviews: Sequence[ReviewRecord], parameters: Sequence[float]) -> float:
    scheduler = make_scheduler(parameters, fuzz=False)
    memories: dict[int, MemoryState] = {}
    losses = []
    for r in sorted(reviews, key=lambda r: r.reviewed_at):
        memory = memories.get(r.card_id, MemoryState())
        if not memory.is_new:
            p = retrievability(scheduler, memory, r.reviewed_at)
            losses.append(-math.log(p if r.rating > 1 else 1 - p))
        memories[r.card_id] = review(scheduler, memory, Rating(r.rating), r.reviewed_at)
    return sum(losses) / len(losses)


@pytest.fixture(scope="module")
def fitted() -> tuple[float, ...]:
    return fit_parameters(simulate(LEARNER, cards=400, seed=1))


def test_fitted_parameters_are_a_full_fsrs6_set_the_scheduler_accepts(fitted):
    assert len(fitted) == 21
    assert fitted != DEFAULT_PARAMETERS
    make_scheduler(fitted)  # py-fsrs validates every bound


def test_fitted_parameters_predict_held_out_reviews_better_than_the_defaults(fitted):
    held_out = simulate(LEARNER, cards=200, seed=2)
    default, own, truth = (log_loss(held_out, p) for p in (DEFAULT_PARAMETERS, fitted, LEARNER))
    assert own < default
    # The fit recovers most of the gap between the defaults and the learner's true model.
    assert own - truth < 0.5 * (default - truth)


def test_too_few_reviews_give_the_defaults():
    assert fit_parameters([]) == DEFAULT_PARAMETERS
