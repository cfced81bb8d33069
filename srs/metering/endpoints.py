from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from srs.accounts.dependencies import CurrentUser, get_caller
from srs.kit.db import Database, utcnow
from srs.kit.deps import AppSettings, DbSession
from srs.kit.errors import ErrorOut
from srs.kit.settings import Settings
from srs.metering import billing, checkout, service
from srs.metering.schemas import BillingUrlOut, UsageOut, WebhookOut
from srs.sources.dependencies import Sources

router = APIRouter(tags=["metering"])
STRIPE_FAILED = {502: {"model": ErrorOut, "description": "Stripe failed or refused the request"}}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.get("/usage", response_model=UsageOut)
def usage(user: CurrentUser, db: DbSession, settings: AppSettings, sources: Sources) -> UsageOut:
    """The plan, this billing period's usage (cards, tokens, topics, sources), limits and
    refunds, and past periods."""
    now = utcnow()
    return service.usage(db, settings, user, now, sources.usage(db, user, now))


@router.post("/billing/webhook", response_model=WebhookOut)
def billing_webhook(
    payload: Annotated[bytes, Depends(_raw_body)],
    db: DbSession,
    settings: AppSettings,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookOut:
    """Stripe events (signed with SRS_STRIPE_WEBHOOK_SECRET). Each event id is applied once;
    a replay answers 200 with status "duplicate"; a malformed event is a 400."""
    event = billing.verify(payload, stripe_signature, settings)
    status = billing.handle(db, settings, event)
    return WebhookOut(id=event["id"], type=event["type"], status=status)


def _payer(request: Request) -> checkout.Payer:
    """Who pays, read in a short read-only transaction: no session stays open (nor, on
    SQLite, the write lock held) while Stripe answers."""
    db: Database = request.app.state.db
    with db.transaction(write=False) as session:
        user = get_caller(request, session, request.app.state.settings).user
        return checkout.Payer(user.id, user.email, user.plan, user.stripe_customer_id)


def _app_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


@router.post("/billing/checkout", response_model=BillingUrlOut, responses=STRIPE_FAILED)
async def billing_checkout(request: Request) -> BillingUrlOut:
    """A Stripe Checkout session for the Pro plan: send the learner to `url`. 503
    `billing_not_configured` without SRS_STRIPE_API_KEY and SRS_STRIPE_PRICE_PRO."""
    settings: Settings = request.app.state.settings
    payer = await run_in_threadpool(_payer, request)
    url = await run_in_threadpool(
        checkout.checkout_url, settings, payer, _app_url(request, settings)
    )
    return BillingUrlOut(url=url)


@router.post("/billing/portal", response_model=BillingUrlOut, responses=STRIPE_FAILED)
async def billing_portal(request: Request) -> BillingUrlOut:
    """Stripe's customer portal for a learner who has paid (409 before the first checkout)."""
    settings: Settings = request.app.state.settings
    payer = await run_in_threadpool(_payer, request)
    url = await run_in_threadpool(checkout.portal_url, settings, payer, _app_url(request, settings))
    return BillingUrlOut(url=url)
