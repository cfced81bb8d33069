""""Today" and "tomorrow" in the learner's own time zone. Pure."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def day_bounds(now: datetime, tz_name: str) -> tuple[datetime, datetime]:
    """The UTC start and end of the learner's local day that contains `now`."""
    tz = ZoneInfo(tz_name)
    local_date = now.astimezone(tz).date()
    start = datetime.combine(local_date, time(0), tzinfo=tz)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def start_of_tomorrow(now: datetime, tz_name: str) -> datetime:
    return day_bounds(now, tz_name)[1]
