"""Daily statistics in the learner's own time zone. The grouping is done here, in Python, so it
follows the zone's real midnights (DST included) on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.db import utcnow
from srs.stats import repository
from srs.stats.repository import ReviewRow
from srs.stats.schemas import DayStats, ForecastDay, StatsOut, Totals
from srs.topics import service as topics

FORECAST_DAYS = 30
REVIEW_STATE = 2
# First-attempt success: Again fails, Hard is half a success, Good and Easy succeed.
SUCCESS_BY_RATING = {1: 0.0, 2: 0.5, 3: 1.0, 4: 1.0}


@dataclass
class _Day:
    reviews: int = 0
    first_attempts: int = 0
    first_success: float = 0.0
    retention_reviews: int = 0
    retained: int = 0

    def add(self, row: ReviewRow) -> None:
        self.reviews += 1
        if row.first_attempt:
            self.first_attempts += 1
            self.first_success += SUCCESS_BY_RATING.get(row.rating, 0.0)
        elif row.state_before == REVIEW_STATE:
            self.retention_reviews += 1
            self.retained += row.rating > 1


def _share(part: float, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def stats(
    session: Session,
    user: User,
    days: int,
    topic_id: int | None = None,
    now: datetime | None = None,
) -> StatsOut:
    now = now or utcnow()
    if topic_id is not None:
        topics.get_topic(session, user, topic_id)  # 404 unless it is the caller's
    tz = ZoneInfo(user.timezone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)

    buckets = {first + timedelta(days=i): _Day() for i in range(days)}
    rows = repository.reviews_between(
        session, user.id, _midnight(first, tz), _midnight(today + timedelta(days=1), tz), topic_id
    )
    for row in rows:
        bucket = buckets.get(row.reviewed_at.astimezone(tz).date())
        if bucket is not None:
            bucket.add(row)

    total = _Day()
    daily = []
    for day, b in buckets.items():
        daily.append(
            DayStats(
                date=day,
                reviews=b.reviews,
                first_attempts=b.first_attempts,
                first_attempt_success=_share(b.first_success, b.first_attempts),
                retention_reviews=b.retention_reviews,
                retention=_share(b.retained, b.retention_reviews),
            )
        )
        total.reviews += b.reviews
        total.first_attempts += b.first_attempts
        total.first_success += b.first_success
        total.retention_reviews += b.retention_reviews
        total.retained += b.retained

    return StatsOut(
        timezone=user.timezone,
        today=today,
        topic_id=topic_id,
        days=daily,
        totals=Totals(
            reviews=total.reviews,
            first_attempts=total.first_attempts,
            first_attempt_success=_share(total.first_success, total.first_attempts),
            retention_reviews=total.retention_reviews,
            retention=_share(total.retained, total.retention_reviews),
        ),
        forecast=_forecast(session, user, tz, today, topic_id),
    )


def _forecast(
    session: Session, user: User, tz: ZoneInfo, today: date, topic_id: int | None
) -> list[ForecastDay]:
    end = _midnight(today + timedelta(days=FORECAST_DAYS), tz)
    per_day: Counter[date] = Counter()
    for due, buried_until in repository.seen_cards_due_before(session, user.id, end, topic_id):
        # A buried card cannot come back before it is unburied.
        when = max(due, buried_until) if buried_until is not None else due
        per_day[max(today, when.astimezone(tz).date())] += 1
    return [
        ForecastDay(date=day, due=per_day.get(day, 0))
        for day in (today + timedelta(days=i) for i in range(FORECAST_DAYS))
    ]
