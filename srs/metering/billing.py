"""Stripe webhooks: verified, validated, applied once per event id, never rolled back by an
older event that arrives late, and never dropped: an event for a customer no user is linked to
yet is parked and applied when the link arrives (checkout.session.completed carries the
user's id as client_reference_id)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated

import stripe
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit import metrics
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
CHECKOUT_COMPLETED = "checkout.session.completed"
PAID_STATUSES = {"active", "trialing"}
LATEST_CREATED = 253_402_300_799  # 9999-12-31T23:59:59Z: past it no datetime can hold it
MAX_ROW_ID = 2_147_483_647

Text255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
RowIdText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")]


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: dict


class _Event(BaseModel):
    """The envelope every event must have; Stripe's other fields are kept but not read."""

    model_config = ConfigDict(extra="allow")
    id: Text255
    type: Annotated[str, StringConstraints(max_length=100)]
    created: StrictInt = Field(ge=0, le=LATEST_CREATED)
    data: _Data


class _Object(BaseModel):
    """The fields we read from a subscription or a checkout session."""

    model_config = ConfigDict(extra="allow")
    customer: Text255 | None = None
    metadata: dict[str, str] | None = None
    status: str | None = None
    client_reference_id: RowIdText | None = None


def _invalid(message: str) -> AppError:
    return AppError(message, code="invalid_event", status_code=400)


def verify(payload: bytes, signature: str | None, settings: Settings) -> dict:
    """The event, once its Stripe-Signature checks out and its shape is one we can apply;
    400 otherwise (never 500), 503 when no secret is configured."""
    if not settings.stripe_webhook_secret:
        raise AppError(
            "Billing webhooks are not configured: set SRS_STRIPE_WEBHOOK_SECRET",
            code="billing_not_configured",
            status_code=503,
        )
    try:
        # The signature alone: stripe's construct_event also parses, and crashes on a JSON
        # list; the shape is ours to check, below.
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature or "",
            settings.stripe_webhook_secret,
            tolerance=TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise AppError(
            f"Invalid webhook signature or payload: {error}",
            code="invalid_signature",
            status_code=400,
        ) from error
    # Plain data from here on: the signature covers these exact bytes.
    try:
        event = _Event.model_validate_json(payload)
    except ValidationError as error:
        raise _invalid(f"Malformed webhook event: {_first_error(error)}") from error
    if event.type in SUBSCRIPTION_EVENTS or event.type == CHECKOUT_COMPLETED:
        _object_of(event.data.object)  # refuse now what could not be applied later
    return event.model_dump()


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "event"
    return f"{where}: {first['msg']}"


def _object_of(data: dict) -> _Object:
    try:
        obj = _Object.model_validate(data)
    except ValidationError as error:
        raise _invalid(f"Malformed webhook event: data.object.{_first_error(error)}") from error
    user_id = (obj.metadata or {}).get("user_id")
    if user_id is not None and not _is_row_id(user_id):
        raise _invalid("Malformed webhook event: metadata.user_id is not a user id")
    if obj.client_reference_id is not None and not _is_row_id(obj.client_reference_id):
        raise _invalid("Malformed webhook event: client_reference_id is not a user id")
    return obj


def _is_row_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ROW_ID


def handle(session: Session, settings: Settings, event: dict) -> str:
    """Apply one verified event; returns what happened (see WebhookOut.status)."""
    if event["type"] == CHECKOUT_COMPLETED:
        status = _link_checkout(session, settings, event)
    elif event["type"] in SUBSCRIPTION_EVENTS:
        status = _subscription_event(session, settings, event)
    else:
        return "ignored"
    metrics.BILLING_PARKED.set(repository.count_parked(session))
    return status


def _subscription_event(session: Session, settings: Settings, event: dict) -> str:
    subscription = _object_of(event["data"]["object"])
    user = _find_user(session, subscription)
    if user is None:
        return _park(session, event, subscription)
    status = _apply(session, settings, user, event, subscription)
    _apply_parked(session, settings, user)
    return status


def _apply(
    session: Session, settings: Settings, user: User, event: dict, subscription: _Object
) -> str:
    if not repository.mark_webhook_processed(session, event["id"], event["type"]):
        return "duplicate"
    created = datetime.fromtimestamp(event["created"], UTC)
    if user.plan_changed_at is not None and created < user.plan_changed_at:
        log.info("billing event %s is older than the last plan change; ignored", event["id"])
        return "stale"
    service.set_plan(session, settings, user, _plan_for(event["type"], subscription), created)
    return "applied"


def _park(session: Session, event: dict, subscription: _Object) -> str:
    """No user for this customer yet: keep the event (Stripe will not send it again after our
    2xx) until the customer is linked; an operator sees it in the log, the metric and
    `srs billing parked`."""
    if not subscription.customer:
        raise _invalid("A subscription event names neither a customer nor a user")
    repository.park_webhook(
        session,
        event["id"],
        event["type"],
        subscription.customer,
        datetime.fromtimestamp(event["created"], UTC),
        json.dumps(event),
    )
    log.warning(
        "billing event %s (%s) parked: no user is linked to customer %s yet; it is applied "
        "when the customer's checkout completes (`srs billing parked` lists such events)",
        event["id"],
        event["type"],
        subscription.customer,
    )
    return "parked"


def _apply_parked(session: Session, settings: Settings, user: User) -> None:
    """Events that waited for this user's customer id, oldest first."""
    if not user.stripe_customer_id:
        return
    for parked in repository.parked_for(session, user.stripe_customer_id):
        event = json.loads(parked.payload)
        status = _apply(session, settings, user, event, _object_of(event["data"]["object"]))
        log.info("parked billing event %s for user %s: %s", parked.id, user.id, status)
        repository.unpark(session, parked.id)


def _link_checkout(session: Session, settings: Settings, event: dict) -> str:
    """A completed checkout ties its customer to the user who started it."""
    checkout = _object_of(event["data"]["object"])
    if checkout.client_reference_id is None or not checkout.customer:
        return "ignored"  # not a checkout this service created
    if not repository.mark_webhook_processed(session, event["id"], event["type"]):
        return "duplicate"
    user = session.get(
        User, int(checkout.client_reference_id), with_for_update=True, populate_existing=True
    )
    if user is None:
        log.warning(
            "checkout %s completed for user %s, who no longer exists",
            event["id"],
            checkout.client_reference_id,
        )
        return "ignored"
    owner = repository.user_by_customer(session, checkout.customer)
    if owner is not None and owner.id != user.id:
        raise AppError(
            f"Customer {checkout.customer} is already linked to another user",
            code="conflict",
            status_code=409,
        )
    user.stripe_customer_id = checkout.customer
    session.flush()
    _apply_parked(session, settings, user)
    return "linked"


def _plan_for(event_type: str, subscription: _Object) -> str:
    if event_type == "customer.subscription.deleted":
        return "free"
    return "pro" if subscription.status in PAID_STATUSES else "free"


def _find_user(session: Session, subscription: _Object) -> User | None:
    """By metadata.user_id (set when the checkout was created), else by the stored customer id.
    The row is locked so two events for one user apply one after the other."""
    customer = subscription.customer
    user_id = (subscription.metadata or {}).get("user_id")
    user = None
    if user_id is not None:
        user = session.get(User, int(user_id), with_for_update=True, populate_existing=True)
    if user is None and customer:
        user = repository.user_by_customer(session, customer, lock=True)
    unlinked = user is not None and customer and user.stripe_customer_id is None
    if unlinked and repository.user_by_customer(session, customer) is None:
        user.stripe_customer_id = customer
        session.flush()
    return user
