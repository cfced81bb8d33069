from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from srs.accounts.dependencies import CurrentUser
from srs.kit.db import utcnow
from srs.kit.deps import AppSettings, DbSession
from srs.metering import billing, service
from srs.metering.schemas import UsageOut, WebhookOut

router = APIRouter(tags=["metering"])


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.get("/usage", response_model=UsageOut)
def usage(user: CurrentUser, db: DbSession, settings: AppSettings) -> UsageOut:
    """The plan, this billing period's usage and limits, and past periods."""
    return service.usage(db, settings, user, utcnow())


@router.post("/billing/webhook", response_model=WebhookOut)
def billing_webhook(
    payload: Annotated[bytes, Depends(_raw_body)],
    db: DbSession,
    settings: AppSettings,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookOut:
    """Stripe subscription events (signed with SRS_STRIPE_WEBHOOK_SECRET). Each event id is
    applied once; a replay answers 200 with status "duplicate"."""
    event = billing.verify(payload, stripe_signature, settings)
    status = billing.handle(db, settings, event)
    return WebhookOut(id=event["id"], type=event["type"], status=status)
