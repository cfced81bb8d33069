"""The four intervals on the rating buttons are the intervals an answer applies, fuzz included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from srs.study.scheduling import (
    MemoryState,
    Rating,
    State,
    make_scheduler,
    preview_intervals,
    review,
)

DAY = 86_400


def _histories(cards: int, seed: int = 3):
    """(card id, reps, memory, now) at many points of many random study histories."""
    rng = random.Random(seed)
    scheduler = make_scheduler()
    for card_id in range(1, cards + 1):
        memory, now = MemoryState(), datetime(2026, 1, 1, 9, tzinfo=UTC)
        for reps in range(rng.randint(1, 14)):
            yield card_id, reps, memory, now
            rating = Rating(rng.choice([1, 2, 3, 3, 3, 4]))
            memory = review(scheduler, memory, rating, now, card_id, reps)
            now = memory.due + timedelta(hours=rng.uniform(0, 72))


def test_preview_equals_the_applied_interval_for_every_rating_on_many_cards():
    scheduler = make_scheduler()  # fuzz on, as learners have it
    checked = fuzzed = 0
    for card_id, reps, memory, now in _histories(300):
        shown = preview_intervals(scheduler, memory, now, card_id, reps)
        plain = preview_intervals(make_scheduler(fuzz=False), memory, now, card_id, reps)
        for rating in Rating:
            applied = review(scheduler, memory, rating, now, card_id, reps)
            assert round((applied.due - now).total_seconds()) == shown[str(int(rating))]
            checked += 1
            fuzzed += shown[str(int(rating))] != plain[str(int(rating))]
    assert checked > 4000
    assert fuzzed > 100  # fuzz is really there, and really shown


def test_easy_is_at_least_a_day_beyond_good_whenever_both_are_days():
    scheduler = make_scheduler()
    lapses = 0
    for card_id, reps, memory, now in _histories(300, seed=11):
        shown = preview_intervals(scheduler, memory, now, card_id, reps)
        good, easy = shown["3"], shown["4"]
        if good >= DAY and easy >= DAY:
            assert easy >= good + DAY
        if memory.state == State.RELEARNING:
            lapses += 1
            assert easy > good
    assert lapses > 20


def test_same_card_and_review_always_get_the_same_fuzz():
    scheduler = make_scheduler()
    memory = MemoryState(
        state=State.REVIEW,
        step=None,
        stability=40.0,
        difficulty=5.0,
        due=datetime(2026, 3, 1, tzinfo=UTC),
        last_review=datetime(2026, 1, 20, tzinfo=UTC),
    )
    now = datetime(2026, 3, 1, 10, tzinfo=UTC)
    first = preview_intervals(scheduler, memory, now, 42, 7)
    random.seed(99)  # the global random module plays no part
    assert preview_intervals(scheduler, memory, now, 42, 7) == first
    others = {
        tuple(preview_intervals(scheduler, memory, now, card, 7).values()) for card in range(50)
    }
    assert len(others) > 3  # but different cards spread out
