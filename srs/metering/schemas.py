from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PlanOut(BaseModel):
    name: str
    title: str
    cards_per_period: int
    active_topics: int | None  # None: unlimited


class CardsUsage(BaseModel):
    used: int
    limit: int
    reserved: int  # held by batches being generated now


class TokensUsage(BaseModel):
    input: int
    output: int
    estimated: bool  # some counts are the worker's estimate (the provider sent none)


class TopicsUsage(BaseModel):
    active: int
    limit: int | None


class PastPeriod(BaseModel):
    period_start: datetime
    cards_used: int
    tokens_in: int
    tokens_out: int


class UsageOut(BaseModel):
    plan: str
    plan_title: str
    period_start: datetime
    period_end: datetime
    cards: CardsUsage
    tokens: TokensUsage
    topics: TopicsUsage
    plans: list[PlanOut]
    past_periods: list[PastPeriod]


class WebhookOut(BaseModel):
    id: str
    type: str
    # applied | duplicate (seen before) | stale (older than the plan change already applied)
    # | ignored (not a subscription event) | unknown_customer
    status: str
