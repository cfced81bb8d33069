"""Which subtopic the next batch targets: the least covered, the exhausted ones set aside."""

from __future__ import annotations

from srs.outline.service import least_covered


def test_the_least_covered_subtopic_is_the_target_first_in_outline_order_on_a_tie():
    assert least_covered([1, 2, 3], {1: 4, 2: 0, 3: 0}, well_covered=10).target_id == 2
    assert not least_covered([1, 2, 3], {1: 4}, well_covered=10).all_covered


def test_an_exhausted_subtopic_is_skipped_and_counts_as_covered():
    counts = {1: 0, 2: 3, 3: 10}
    coverage = least_covered([1, 2, 3], counts, well_covered=10, exhausted={1})
    assert coverage.target_id == 2 and not coverage.all_covered
    # Every subtopic covered or exhausted: the outline is extended, not gone round again.
    assert least_covered([1, 2, 3], counts, well_covered=10, exhausted={1, 2}).all_covered


def test_when_every_subtopic_is_exhausted_the_least_covered_is_still_a_target():
    coverage = least_covered([1, 2], {1: 5, 2: 2}, well_covered=10, exhausted={1, 2})
    assert coverage.target_id == 2 and coverage.all_covered
