from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class DayStats(BaseModel):
    date: dt.date = Field(description="a day in the learner's time zone")
    reviews: int = Field(description="answers given that day")
    first_attempts: int = Field(description="answers that were a card's first")
    first_attempt_success: float | None = Field(
        description="share of first attempts rated Good or Easy (Hard counts half); null: none"
    )
    retention_reviews: int = Field(description="later answers on cards in the review state")
    retention: float | None = Field(
        description="share of those answers rated Hard, Good or Easy; null: none"
    )


class ForecastDay(BaseModel):
    date: dt.date
    due: int = Field(description="cards falling due that day; today includes overdue cards")


class Totals(BaseModel):
    reviews: int
    first_attempts: int
    first_attempt_success: float | None
    retention_reviews: int
    retention: float | None


class StatsOut(BaseModel):
    timezone: str
    today: dt.date
    topic_id: int | None
    days: list[DayStats] = Field(description="oldest first, ending today")
    totals: Totals
    forecast: list[ForecastDay] = Field(description="today and the following days")
