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


class RefundsUsage(BaseModel):
    used: int  # flagged cards refunded this period (net of re-bills)
    limit: int
    rule: str  # the refund rule in words, for the usage page


class TokensUsage(BaseModel):
    input: int
    output: int
    estimated: bool  # some counts are the worker's estimate (the provider sent none)


class TopicsUsage(BaseModel):
    active: int
    limit: int | None


class SourcesUsage(BaseModel):
    """Sources added this period (counted by srs/sources; deleted ones still count)."""

    bytes_used: int
    bytes_limit: int | None  # None: no monthly limit on this plan
    pages_used: int  # PDF pages (other formats have none)
    pages_limit: int | None


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
    refunds: RefundsUsage
    tokens: TokensUsage
    topics: TopicsUsage
    sources: SourcesUsage
    plans: list[PlanOut]
    past_periods: list[PastPeriod]


class WebhookOut(BaseModel):
    id: str
    type: str
    # applied | duplicate (seen before) | stale (older than the plan change already applied)
    # | ignored (not an event we act on) | parked (no user for its customer yet: kept and
    # applied once the customer is linked) | linked (a checkout tied a customer to its user)
    status: str


class BillingUrlOut(BaseModel):
    url: str
