"""Billing periods: monthly in UTC from the plan's anchor. Pure functions, no I/O."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import NamedTuple


class Period(NamedTuple):
    start: datetime
    end: datetime


def _months_after(anchor: datetime, months: int) -> datetime:
    """The anchor's day and time, `months` later; a day the month lacks becomes its last day
    (anchor Jan 31 -> Feb 28/29 -> Mar 31: always counted from the anchor, never drifting)."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_for(anchor: datetime, now: datetime) -> Period:
    """The period that contains `now`: [start, end). A period starts exactly at the anchor's
    instant of its month. Microseconds are dropped so a period start is a clean key."""
    anchor = anchor.astimezone(UTC).replace(microsecond=0)
    now = now.astimezone(UTC)
    months = (now.year - anchor.year) * 12 + now.month - anchor.month
    start = _months_after(anchor, months)
    if start > now:
        months -= 1
        start = _months_after(anchor, months)
    return Period(start, _months_after(anchor, months + 1))
