"""The usage outbox: card, credit and rebill events not yet reported are sent to Stripe as
meter events. The event's idempotency key is Stripe's `identifier`, so a resend after a crash
between sending and marking is deduplicated by Stripe. No transaction is open during a request.

Each event stands alone: one that fails for a while (a 5xx, the network) is tried again next
tick while the others go on; one Stripe refuses for good (a 4xx other than 429) is marked
refused, logged and counted in srs_usage_reports_refused_total, and never blocks the rest.
A 429 ends the round: Stripe asks us to slow down for every event alike."""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import Enum

import httpx

from srs.kit import metrics
from srs.kit.db import Database, utcnow
from srs.kit.settings import Settings
from srs.metering import repository

log = logging.getLogger(__name__)

STRIPE_API_BASE = "https://api.stripe.com"
METER_EVENTS_PATH = "/v1/billing/meter_events"
METER_EVENTS_URL = STRIPE_API_BASE + METER_EVENTS_PATH
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
    url = (settings.stripe_api_base or STRIPE_API_BASE).rstrip("/") + METER_EVENTS_PATH
    try:
        return _send_all(db, client, url, settings.stripe_api_key, pending)
    finally:
        if owned:
            client.close()


class Sent(Enum):
    OK = "ok"
    LATER = "later"  # a 5xx or a network error: this event again next tick
    SLOW_DOWN = "slow_down"  # 429: stop this round
    REFUSED = "refused"  # any other 4xx: Stripe will never take it


def _send_all(db: Database, client: httpx.Client, url: str, api_key: str, pending: list) -> int:
    sent = 0
    for event_id, key, quantity, created_at, customer in pending:
        result = _send(client, url, api_key, key, quantity, created_at, customer)
        if result is Sent.SLOW_DOWN:
            break
        if result is Sent.LATER:
            continue
        with db.transaction() as session:
            if result is Sent.OK:
                repository.mark_reported(session, event_id, utcnow())
                sent += 1
            else:
                repository.mark_refused(session, event_id, utcnow())
                metrics.USAGE_REPORTS_REFUSED.inc()
    return sent


def _send(
    client: httpx.Client, url: str, api_key: str, key: str, quantity: int, created_at, customer
) -> Sent:
    data = {
        "event_name": METER_EVENT_NAME,
        "payload[stripe_customer_id]": customer,
        "payload[value]": str(quantity),
        "identifier": key,
        "timestamp": str(int(created_at.timestamp())),
    }
    try:
        response = client.post(url, data=data, headers={"Authorization": f"Bearer {api_key}"})
    except httpx.HTTPError as error:
        log.warning("sending usage event %s to Stripe failed: %s; retried next tick", key, error)
        return Sent.LATER
    if response.is_success:
        return Sent.OK
    detail = f"{response.status_code} {response.text[:300]}"
    if response.status_code == 429:
        log.warning("Stripe rate-limits usage reports (%s); the rest waits a tick", detail)
        return Sent.SLOW_DOWN
    if 400 <= response.status_code < 500:
        log.error("Stripe refused usage event %s for good (%s); skipped", key, detail)
        return Sent.REFUSED
    log.warning("Stripe failed usage event %s (%s); retried next tick", key, detail)
    return Sent.LATER
