from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from srs.accounts.dependencies import BriefCaller, Caller, CurrentUser
from srs.kit.db import utcnow
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


def _payer(caller: Caller) -> checkout.Payer:
    user = caller.user
    return checkout.Payer(user.id, user.email, user.plan, user.stripe_customer_id)


def _app_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


@router.post("/billing/checkout", response_model=BillingUrlOut, responses=STRIPE_FAILED)
async def billing_checkout(
    request: Request, caller: BriefCaller, settings: AppSettings
) -> BillingUrlOut:
    """A Stripe Checkout session for the Pro plan: send the learner to `url`. 503
    `billing_not_configured` without SRS_STRIPE_API_KEY and SRS_STRIPE_PRICE_PRO."""
    # The caller is read in a short transaction of its own (BriefCaller): no session stays
    # open (nor, on SQLite, the write lock held) while Stripe answers.
    url = await run_in_threadpool(
        checkout.checkout_url, settings, _payer(caller), _app_url(request, settings)
    )
    return BillingUrlOut(url=url)


@router.post("/billing/portal", response_model=BillingUrlOut, responses=STRIPE_FAILED)
async def billing_portal(
    request: Request, caller: BriefCaller, settings: AppSettings
) -> BillingUrlOut:
    """Stripe's customer portal for a learner who has paid (409 before the first checkout)."""
    url = await run_in_threadpool(
        checkout.portal_url, settings, _payer(caller), _app_url(request, settings)
    )
    return BillingUrlOut(url=url)
