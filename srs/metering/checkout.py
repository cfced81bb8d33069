"""Paying: a Stripe Checkout session to upgrade, the customer portal to manage billing.

The official `stripe` library talks to Stripe; SRS_STRIPE_API_BASE points it elsewhere (a
local double in the tests). No database session is open during these calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe

from srs.kit.errors import AppError, conflict
from srs.kit.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Payer:
    """What a checkout needs to know of the learner, read before any call to Stripe."""

    user_id: int
    email: str
    plan: str
    customer: str | None


def not_configured(what: str) -> AppError:
    return AppError(
        f"Billing is not configured on this server: set {what}",
        code="billing_not_configured",
        status_code=503,
    )


def _client(settings: Settings) -> stripe.StripeClient:
    if not settings.stripe_api_key:
        raise not_configured("SRS_STRIPE_API_KEY")
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_api_key, base_addresses=base or {}, max_network_retries=1
    )


def _unavailable(error: stripe.StripeError) -> AppError:
    log.warning("Stripe refused a billing request: %s", error)
    return AppError(
        f"The payment provider could not be reached or refused the request: "
        f"{error.user_message or type(error).__name__}",
        code="billing_unavailable",
        status_code=502,
    )


def checkout_url(settings: Settings, payer: Payer, app_url: str) -> str:
    """A Checkout session for the Pro plan; the learner is sent to its URL. The user's id
    rides along as client_reference_id (the webhook links the new customer to the user with
    it) and in the subscription's metadata (so its events name the user too)."""
    if not settings.stripe_price_pro:
        raise not_configured("SRS_STRIPE_PRICE_PRO")
    client = _client(settings)
    if payer.plan == "pro":
        raise conflict("You are on the Pro plan already; use Manage billing to change it")
    params: dict = {
        "mode": "subscription",
        "line_items": [{"price": settings.stripe_price_pro, "quantity": 1}],
        "client_reference_id": str(payer.user_id),
        "subscription_data": {"metadata": {"user_id": str(payer.user_id)}},
        "success_url": f"{app_url}/?billing=success",
        "cancel_url": f"{app_url}/?billing=cancelled",
    }
    if payer.customer:
        params["customer"] = payer.customer
    else:
        params["customer_email"] = payer.email
    try:
        session = client.v1.checkout.sessions.create(params=params)
    except stripe.StripeError as error:
        raise _unavailable(error) from error
    return _url_of(session)


def portal_url(settings: Settings, payer: Payer, app_url: str) -> str:
    """The customer portal, where a paying learner changes or cancels the subscription."""
    client = _client(settings)
    if not payer.customer:
        raise conflict("There is no billing account yet: upgrade first")
    try:
        session = client.v1.billing_portal.sessions.create(
            params={"customer": payer.customer, "return_url": f"{app_url}/"}
        )
    except stripe.StripeError as error:
        raise _unavailable(error) from error
    return _url_of(session)


def _url_of(session) -> str:
    url = getattr(session, "url", None)
    if not url:
        raise AppError(
            "The payment provider answered without a URL",
            code="billing_unavailable",
            status_code=502,
        )
    return url
