"""The refill policy: when the next batch is asked for, so that a learner does not wait."""

from __future__ import annotations

from srs.generation.refill import (
    HOSTED,
    UNMEASURED,
    BatchTiming,
    CardRate,
    RefillInputs,
    card_rate,
    eta_seconds,
    learner_pace,
    plan_from,
    refill_size,
    refill_threshold,
    wants_batch,
)

LOCAL = CardRate(first_card=7.0, per_card=5.0)


def inputs(**changes) -> RefillInputs:
    values = {
        "rate": LOCAL, "learner_pace": 6.0, "batch_size": 10, "floor": 5, "max_unseen": 40,
        "quota_left": None,
    }
    values.update(changes)
    return RefillInputs(**values)


def test_a_learner_slower_than_the_model_only_needs_the_first_card_covered() -> None:
    # 7 s to the first card at 12 s a card: one card of margin is enough, the floor is more.
    assert refill_threshold(inputs(learner_pace=12.0)) == 5
    # A slow first card (25 s) at 6 s a card needs ceil(25 / 6) + 1 = 6.
    assert refill_threshold(inputs(rate=CardRate(25.0, 5.0), learner_pace=6.0)) == 6


def test_a_learner_faster_than_the_model_starts_the_batch_earlier() -> None:
    # 4 s a card against 5 s: the refill is a batch of 20 (they keep pace), which falls
    # behind by 19 s; (7 + 19) / 4 -> 7, + 1 = 8.
    assert refill_threshold(inputs(learner_pace=4.0)) == 8
    # 3 s a card: (7 + 19 * 2) / 3 = 15, + 1 = 16.
    assert refill_threshold(inputs(learner_pace=3.0)) == 16
    # With the batch held at 10 by the bounds: (7 + 9 * 2) / 3 -> 9, + 1 = 10.
    assert refill_threshold(inputs(learner_pace=3.0, max_unseen=10)) == 10
    # 1 s a card: far ahead of the model; the bound holds it.
    assert refill_threshold(inputs(learner_pace=1.0)) == 40


def test_the_refill_point_is_bounded_by_the_setting_and_the_quota() -> None:
    assert refill_threshold(inputs(learner_pace=1.0, max_unseen=12)) == 12
    # A quarter of what is left of the quota: 40 cards left -> at most 10 unseen.
    assert refill_threshold(inputs(learner_pace=1.0, quota_left=40)) == 10
    # Never below the fixed floor while cards are left at all.
    assert refill_threshold(inputs(learner_pace=1.0, quota_left=4)) == 5


def test_without_a_pace_it_is_the_fixed_refill_point() -> None:
    assert refill_threshold(inputs(learner_pace=None)) == 5
    assert refill_threshold(inputs(learner_pace=None, max_unseen=3)) == 3


def test_a_fast_provider_keeps_the_fixed_point() -> None:
    remote = CardRate(first_card=1.0, per_card=0.3)
    assert refill_threshold(inputs(rate=remote, learner_pace=2.0)) == 5


def test_the_card_rate_is_an_exponential_average_of_finished_batches() -> None:
    assert card_rate([]) == UNMEASURED
    one = card_rate([BatchTiming(first_card=6.0, per_card=4.0)])
    assert one == CardRate(6.0, 4.0)  # the first measurement replaces the prior
    two = card_rate([BatchTiming(6.0, 4.0), BatchTiming(16.0, None)])
    assert two.first_card == 6.0 + 0.3 * 10.0 and two.per_card == 4.0


def test_the_learner_pace_is_the_median_gap_without_pauses() -> None:
    assert learner_pace([]) is None and learner_pace([100.0]) is None
    assert learner_pace([0.0, 5.0, 11.0, 500.0, 506.0]) == 6.0  # the 489 s pause is left out
    assert learner_pace([30.0, 0.0, 10.0]) == 15.0  # order does not matter
    assert learner_pace([0.0, 1000.0]) is None  # only a pause


def test_the_eta_counts_down_from_the_measured_rate() -> None:
    assert eta_seconds(LOCAL, seconds_since_start=None, seconds_since_last_card=None) == 7
    assert eta_seconds(LOCAL, seconds_since_start=2.5, seconds_since_last_card=None) == 5
    assert eta_seconds(LOCAL, seconds_since_start=30.0, seconds_since_last_card=1.0) == 4
    # Later than expected: "any moment now", never zero or negative.
    assert eta_seconds(LOCAL, seconds_since_start=60.0, seconds_since_last_card=9.0) == 1


def test_a_learner_who_keeps_up_with_the_model_gets_larger_refills() -> None:
    # Every batch boundary costs a prompt and a first card: fewer boundaries, less waiting.
    assert refill_size(inputs(learner_pace=6.0)) == 20
    assert refill_size(inputs(learner_pace=12.0)) == 10  # well behind the model: no need
    assert refill_size(inputs(learner_pace=3.0, max_unseen=15)) == 15
    assert refill_size(inputs(learner_pace=3.0, quota_left=40)) == 10  # never below a batch


def test_the_first_batch_is_sized_for_a_brisk_learner_when_the_provider_is_slow() -> None:
    # No answer yet: a learner who keeps pace with a 5 s a card model builds no buffer during
    # a batch of 10 and waits at its end for the next first card; 20 cards put them ahead.
    assert refill_size(inputs(learner_pace=None)) == 20
    assert refill_size(inputs(learner_pace=None, max_unseen=12)) == 12  # still bounded
    # A hosted API writes a card in about a second: no learner keeps pace, the usual batch.
    assert refill_size(inputs(learner_pace=None, rate=HOSTED)) == 10
    assert refill_size(inputs(learner_pace=None, rate=CardRate(1.5, 0.4))) == 10


def test_a_fast_learner_with_a_slow_provider_is_refilled_early_and_in_bulk() -> None:
    # The embedded model measured at 7 s to the first card and 5 s a card, over three batches;
    # the learner answered every 3 s. Studying a batch of 20 takes them 60 s, writing it takes
    # the model 7 + 19 * 5 = 102 s: the batch must start (7 + 19 * 2) / 3 = 15 cards, + 1 of
    # margin, before they run out.
    batches = [BatchTiming(first_card=7.0, per_card=5.0)] * 3
    answers = [100.0 + 3.0 * i for i in range(12)]
    bounds = {"batch_size": 10, "floor": 5, "max_unseen": 40, "quota_left": None}
    plan = plan_from(batches, answers, **bounds)
    assert (plan.below, plan.size) == (16, 20)
    assert wants_batch(15, plan, floor=5) and not wants_batch(16, plan, floor=5)
    # The same learner before their second answer, on a new topic: the first batch is doubled.
    first = plan_from(batches, [100.0], **bounds)
    assert (first.below, first.size) == (5, 20)
    assert plan_from([], [], **bounds, prior=HOSTED).size == 10  # a hosted API's first batch
    # The plan's bounds: a quarter of the quota left (40 cards -> 10 unseen), never below the
    # fixed refill point, never a batch smaller than the usual one.
    tight = plan_from(batches, answers, **{**bounds, "quota_left": 40})
    assert (tight.below, tight.size) == (10, 10)
    assert wants_batch(4, plan_from(batches, answers, **{**bounds, "max_unseen": 3}), floor=5)
