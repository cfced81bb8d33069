"""Stripe-compatible subscription webhooks: verified, applied once per event id, and never
rolled back by an older event that arrives late."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import stripe
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.errors import AppError
from srs.kit.settings import Settings
from srs.metering import repository, service

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
}
PAID_STATUSES = {"active", "trialing"}


def verify(payload: bytes, signature: str | None, settings: Settings) -> dict:
    """The event, once its Stripe-Signature checks out; 503 when no secret is configured."""
    if not settings.stripe_webhook_secret:
        raise AppError(
            "Billing webhooks are not configured: set SRS_STRIPE_WEBHOOK_SECRET",
            code="billing_not_configured",
            status_code=503,
        )
    try:
        stripe.Webhook.construct_event(
            payload, signature or "", settings.stripe_webhook_secret, tolerance=TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise AppError(
            f"Invalid webhook signature or payload: {error}",
            code="invalid_signature",
            status_code=400,
        ) from error
    # Plain dicts from here on: the signature covers these exact bytes.
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise AppError("The webhook event has no id", code="invalid", status_code=400)
    event.setdefault("type", "")
    return event


def handle(session: Session, settings: Settings, event: dict) -> str:
    """Apply one verified event; returns what happened (see WebhookOut.status)."""
    if event.get("type") not in SUBSCRIPTION_EVENTS:
        return "ignored"
    subscription = (event.get("data") or {}).get("object")
    if not isinstance(subscription, dict) or not isinstance(event.get("created"), int):
        raise AppError(
            "A subscription event needs data.object and created", code="invalid", status_code=400
        )
    user = _find_user(session, subscription)
    if user is None:
        # Not marked processed: a later delivery may find the user (e.g. after signup).
        log.warning(
            "billing event %s: no user for customer %s", event["id"], subscription.get("customer")
        )
        return "unknown_customer"
    if not repository.mark_webhook_processed(session, event["id"], event["type"]):
        return "duplicate"
    created = datetime.fromtimestamp(int(event["created"]), UTC)
    if user.plan_changed_at is not None and created < user.plan_changed_at:
        log.info("billing event %s is older than the last plan change; ignored", event["id"])
        return "stale"
    service.set_plan(session, settings, user, _plan_for(event["type"], subscription), created)
    return "applied"


def _plan_for(event_type: str, subscription: dict) -> str:
    if event_type == "customer.subscription.deleted":
        return "free"
    return "pro" if subscription.get("status") in PAID_STATUSES else "free"


def _find_user(session: Session, subscription: dict) -> User | None:
    """By metadata.user_id (set when the checkout was created), else by the stored customer id.
    The row is locked so two events for one user apply one after the other."""
    customer = subscription.get("customer")
    user_id = (subscription.get("metadata") or {}).get("user_id")
    user = None
    if user_id is not None and str(user_id).isdigit():
        user = session.get(User, int(user_id), with_for_update=True, populate_existing=True)
    if user is None and customer:
        user = repository.user_by_customer(session, customer, lock=True)
    if user is not None and customer and user.stripe_customer_id is None:
        user.stripe_customer_id = customer
    return user
