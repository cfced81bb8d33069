"""The bounds a study step uses to skip reading the refill plan's inputs (pace, rate, quota):
above them no plan asks for a batch, so skipping the reads never changes the decision."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from srs.generation.refill import (
    CardRate,
    RefillInputs,
    highest_point,
    highest_point_at,
    plan,
    wants_batch,
)

rates = st.builds(
    CardRate,
    first_card=st.floats(min_value=0.0, max_value=120.0),
    per_card=st.floats(min_value=0.0, max_value=60.0),
)
paces = st.one_of(st.none(), st.floats(min_value=0.001, max_value=120.0))
quotas = st.one_of(st.none(), st.integers(min_value=0, max_value=5000))


@given(
    rate=rates,
    pace=paces,
    quota=quotas,
    batch=st.integers(min_value=1, max_value=50),
    floor=st.integers(min_value=0, max_value=30),
    max_unseen=st.integers(min_value=1, max_value=200),
    unseen=st.integers(min_value=0, max_value=300),
)
def test_no_plan_asks_for_a_batch_above_the_bounds(
    rate, pace, quota, batch, floor, max_unseen, unseen
) -> None:
    refill = plan(
        RefillInputs(
            rate=rate,
            learner_pace=pace,
            batch_size=batch,
            floor=floor,
            max_unseen=max_unseen,
            quota_left=quota,
        )
    )
    at_rate = highest_point_at(rate, batch_size=batch, floor=floor, max_unseen=max_unseen)
    assert at_rate <= highest_point(floor, max_unseen)
    if unseen >= at_rate:
        assert not wants_batch(unseen, refill, floor)


def test_a_fast_provider_lets_a_buffer_well_below_the_cap_skip_the_pace() -> None:
    # A hosted model (2 s to the first card, 1 s a card): even the fastest learner's refill
    # point is 24, so a topic with 30 unseen cards reads neither the pace nor the quota.
    hosted = CardRate(first_card=2.0, per_card=1.0)
    assert highest_point_at(hosted, batch_size=10, floor=5, max_unseen=40) == 24
    # The embedded model (8 s, then 5 s a card) can need the whole cap.
    slow = CardRate(first_card=8.0, per_card=5.0)
    assert highest_point_at(slow, batch_size=10, floor=5, max_unseen=40) == 40
