"""The usage outbox: card and credit events not yet reported are sent to Stripe as meter
events. The event's idempotency key is Stripe's `identifier`, so a resend after a crash between
sending and marking is deduplicated by Stripe. No transaction is open during a request."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx

from srs.kit.db import Database, utcnow
from srs.kit.settings import Settings
from srs.metering import repository

log = logging.getLogger(__name__)

METER_EVENTS_URL = "https://api.stripe.com/v1/billing/meter_events"
METER_EVENT_NAME = "srs_cards"
# Stripe refuses meter events older than 35 days; keep a margin.
MAX_AGE = timedelta(days=34)
BATCH = 100


def report_usage(db: Database, settings: Settings, client: httpx.Client | None = None) -> int:
    """Send unreported events; returns how many were reported. Off without an API key."""
    if not settings.stripe_api_key:
        return 0
    since = utcnow() - MAX_AGE
    with db.transaction(write=False) as session:
        pending = [
            (e.id, e.idempotency_key, e.quantity, e.created_at, customer)
            for e, customer in repository.unreported(session, since, BATCH)
        ]
        unknown = repository.users_unknown_to_stripe(session, since)
    if unknown:
        log.info(
            "usage not reported to Stripe for users %s: they have no stripe customer id", unknown
        )
    owned = client is None
    client = client or httpx.Client(timeout=10)
    try:
        return _send_all(db, client, settings.stripe_api_key, pending)
    finally:
        if owned:
            client.close()


def _send_all(db: Database, client: httpx.Client, api_key: str, pending: list) -> int:
    sent = 0
    for event_id, key, quantity, created_at, customer in pending:
        if not _send(client, api_key, key, quantity, created_at, customer):
            break  # keep the order; the next tick tries again from here
        with db.transaction() as session:
            repository.mark_reported(session, event_id, utcnow())
        sent += 1
    return sent


def _send(
    client: httpx.Client, api_key: str, key: str, quantity: int, created_at, customer
) -> bool:
    data = {
        "event_name": METER_EVENT_NAME,
        "payload[stripe_customer_id]": customer,
        "payload[value]": str(quantity),
        "identifier": key,
        "timestamp": str(int(created_at.timestamp())),
    }
    try:
        response = client.post(
            METER_EVENTS_URL, data=data, headers={"Authorization": f"Bearer {api_key}"}
        )
    except httpx.HTTPError as error:
        log.warning("sending usage event %s to Stripe failed: %s", key, error)
        return False
    if response.is_success:
        return True
    log.warning(
        "Stripe refused usage event %s: %s %s", key, response.status_code, response.text[:300]
    )
    return False
