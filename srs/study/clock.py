""""Today" and "tomorrow" in the learner's own time zone. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_bounds(now: datetime, tz_name: str) -> tuple[datetime, datetime]:
    """The UTC start and end of the learner's local day that contains `now`."""
    tz = ZoneInfo(tz_name)
    local_date = now.astimezone(tz).date()
    start = datetime.combine(local_date, time(0), tzinfo=tz)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def start_of_tomorrow(now: datetime, tz_name: str) -> datetime:
    return day_bounds(now, tz_name)[1]


# Anki starts a new day at 4 am local time; a review just after midnight still counts for the
# evening before.
ANKI_ROLLOVER_HOUR = 4


def anki_day_start(moment: datetime, tz_name: str) -> datetime:
    """The UTC moment the learner's Anki day containing `moment` began (4 am local)."""
    tz = ZoneInfo(tz_name)
    local = moment.astimezone(tz)
    start = datetime.combine(local.date(), time(ANKI_ROLLOVER_HOUR), tzinfo=tz)
    if local < start:
        yesterday = local.date() - timedelta(days=1)
        start = datetime.combine(yesterday, time(ANKI_ROLLOVER_HOUR), tzinfo=tz)
    return start.astimezone(UTC)


def day_start_offset(tz_name: str, at: datetime) -> timedelta:
    """The UTC time of day at which the learner's Anki day begins (4 am in UTC-7 -> 11:00)."""
    start = anki_day_start(at, tz_name)
    return timedelta(hours=start.hour, minutes=start.minute)
