"""Billing periods: monthly in UTC from the anchor, clamped to short months."""

from __future__ import annotations

from datetime import timedelta, timezone

from srs.metering.periods import period_for
from tests.metering.conftest import at


def test_a_new_period_starts_exactly_at_the_anchor_instant():
    anchor = at("2025-01-15T10:30:00+00:00")
    just_before = period_for(anchor, at("2025-03-15T10:29:59.999999+00:00"))
    assert just_before == (at("2025-02-15T10:30:00+00:00"), at("2025-03-15T10:30:00+00:00"))
    exactly = period_for(anchor, at("2025-03-15T10:30:00+00:00"))
    assert exactly == (at("2025-03-15T10:30:00+00:00"), at("2025-04-15T10:30:00+00:00"))


def test_the_anchor_itself_opens_the_first_period():
    anchor = at("2025-06-01T00:00:00+00:00")
    assert period_for(anchor, anchor) == (anchor, at("2025-07-01T00:00:00+00:00"))


def test_month_end_anchor_clamps_to_short_months_without_drifting():
    anchor = at("2024-01-31T08:00:00+00:00")
    assert period_for(anchor, at("2024-02-15T00:00:00+00:00")) == (
        at("2024-01-31T08:00:00+00:00"),
        at("2024-02-29T08:00:00+00:00"),  # leap year
    )
    assert period_for(anchor, at("2024-03-01T00:00:00+00:00")) == (
        at("2024-02-29T08:00:00+00:00"),
        at("2024-03-31T08:00:00+00:00"),  # back to the 31st, not the 29th
    )
    assert period_for(anchor, at("2025-02-28T08:00:00+00:00")).start == at("2025-02-28T08:00:00+00:00")
    assert period_for(anchor, at("2024-04-30T07:59:59+00:00")).start == at("2024-03-31T08:00:00+00:00")
    assert period_for(anchor, at("2024-04-30T08:00:00+00:00")).start == at("2024-04-30T08:00:00+00:00")


def test_year_rollover_and_other_timezones_are_read_as_utc():
    anchor = at("2024-12-20T23:00:00-02:00")  # 2024-12-21T01:00Z
    period = period_for(anchor, at("2025-01-21T00:59:00+00:00"))
    assert period.start == at("2024-12-21T01:00:00+00:00")
    assert period.end == at("2025-01-21T01:00:00+00:00")
    assert period.start.tzinfo == timezone.utc


def test_every_instant_falls_in_exactly_one_period():
    anchor = at("2023-05-31T12:00:00+00:00")
    now = at("2023-05-31T12:00:00+00:00")
    for _ in range(800):
        start, end = period_for(anchor, now)
        assert start <= now < end
        assert period_for(anchor, end).start == end  # periods tile the timeline
        now += timedelta(hours=17, minutes=13)
