"""The Stripe-compatible webhook: signed, applied once, and never undone by a late event."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest
from sqlalchemy import func, select

from srs.accounts.models import User
from srs.kit.db import Database
from srs.metering.models import ProcessedWebhookEvent
from tests.conftest import make_settings
from tests.support.server import running_app

SECRET = "whsec_test_secret"
NOW = int(time.time())


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, stripe_webhook_secret=SECRET)


def _signed(payload: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    at = at or int(time.time())
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={digest}", "Content-Type": "application/json"}


def _event(event_id: str, kind: str, created: int, status: str = "active", **subscription) -> bytes:
    body = {
        "id": event_id,
        "type": f"customer.subscription.{kind}",
        "created": created,
        "data": {"object": {"object": "subscription", "status": status, **subscription}},
    }
    return json.dumps(body).encode()


def _post(base_url: str, payload: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/billing/webhook", content=payload, headers=headers)


def _user(database_url: str, user_id: int) -> User:
    db = Database(database_url)
    with db.transaction(write=False) as s:
        user = s.get(User, user_id)
    db.dispose()
    return user


def _processed(database_url: str) -> int:
    db = Database(database_url)
    with db.transaction(write=False) as s:
        count = s.scalar(select(func.count()).select_from(ProcessedWebhookEvent))
    db.dispose()
    return count


def test_bad_signature_is_400_and_changes_nothing(api, base_url, database_url):
    user_id = api.get("/me").json()["id"]
    payload = _event("evt_bad", "created", NOW, metadata={"user_id": str(user_id)})
    for headers in (
        _signed(payload, secret="whsec_wrong"),
        _signed(payload, at=NOW - 3600),  # outside the 300 s tolerance
        {"Content-Type": "application/json"},
    ):
        response = _post(base_url, payload, headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_signature"
    assert api.get("/usage").json()["plan"] == "free"
    assert _processed(database_url) == 0


def test_a_replayed_event_is_applied_once(api, base_url, database_url):
    user_id = api.get("/me").json()["id"]
    payload = _event("evt_1", "created", NOW - 60, customer="cus_1", metadata={"user_id": str(user_id)})
    first = _post(base_url, payload, _signed(payload))
    assert first.status_code == 200 and first.json()["status"] == "applied"
    upgraded = _user(database_url, user_id)
    assert upgraded.plan == "pro" and upgraded.stripe_customer_id == "cus_1"
    assert int(upgraded.plan_anchor.timestamp()) == NOW - 60  # a new billing cycle at the change
    replay = _post(base_url, payload, _signed(payload))
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert _user(database_url, user_id).plan_anchor == upgraded.plan_anchor
    assert _processed(database_url) == 1
    assert api.get("/usage").json()["cards"]["limit"] == 5000


def test_out_of_order_events_end_in_the_right_plan(api, base_url, database_url):
    user_id = api.get("/me").json()["id"]
    meta = {"customer": "cus_9", "metadata": {"user_id": str(user_id)}}
    sequence = [
        # (id, kind, created, status, expected status, expected plan afterwards)
        ("evt_b", "updated", NOW - 50, "active", "applied", "pro"),
        ("evt_a", "created", NOW - 100, "incomplete", "stale", "pro"),  # older, arrives late
        ("evt_d", "deleted", NOW - 10, "canceled", "applied", "free"),
        ("evt_c", "updated", NOW - 30, "active", "stale", "free"),  # older than the deletion
    ]
    for event_id, kind, created, status, outcome, plan in sequence:
        extra = meta if event_id != "evt_d" else {"customer": "cus_9"}  # found by customer id
        payload = _event(event_id, kind, created, status, **extra)
        response = _post(base_url, payload, _signed(payload))
        assert response.status_code == 200 and response.json()["status"] == outcome, event_id
        assert _user(database_url, user_id).plan == plan, event_id


def test_unconfigured_secret_is_503(database_url):
    with running_app(make_settings(database_url)) as (base_url, _app):
        payload = _event("evt_x", "created", NOW)
        response = _post(base_url, payload, _signed(payload))
        assert response.status_code == 503
        assert "SRS_STRIPE_WEBHOOK_SECRET" in response.json()["error"]["message"]


def test_other_event_types_are_acknowledged_and_ignored(base_url):
    payload = json.dumps({"id": "evt_i", "type": "invoice.paid", "created": NOW, "data": {"object": {}}}).encode()
    response = _post(base_url, payload, _signed(payload))
    assert response.status_code == 200 and response.json()["status"] == "ignored"


def test_a_free_user_upgraded_by_cli_gets_a_new_cycle(api, database_url, monkeypatch):
    from srs.cli import main
    from srs.kit.settings import get_settings

    monkeypatch.setenv("SRS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert main(["plans", "set", "ada@example.com", "pro"]) == 0
        assert main(["plans", "set", "ada@example.com", "gold"]) == 2
    finally:
        get_settings.cache_clear()
    usage = api.get("/usage").json()
    assert usage["plan"] == "pro" and usage["topics"]["limit"] is None


def _body(**overrides) -> dict:
    event = {
        "id": "evt_shape",
        "type": "customer.subscription.updated",
        "created": NOW,
        "data": {"object": {"object": "subscription", "status": "active", "customer": "cus_s"}},
    }
    event.update(overrides)
    return event


def _subscription(**fields) -> dict:
    return {"object": {"object": "subscription", "status": "active", "customer": "cus_s", **fields}}


MALFORMED = {
    "a JSON list": [_body()],
    "data as a list": _body(data=[{"object": {}}]),
    "a string metadata": _body(data=_subscription(metadata="user_id=1")),
    "an empty customer object": _body(data=_subscription(customer={})),
    "a huge created": _body(created=10**30),
    "a 30-digit user_id": _body(data=_subscription(metadata={"user_id": "1" * 30})),
    "created as text": _body(created="yesterday"),
    "a checkout with a 30-digit client_reference_id": _body(
        type="checkout.session.completed",
        data={"object": {"object": "checkout.session", "customer": "cus_s",
                         "client_reference_id": "9" * 30}},
    ),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_signed_but_malformed_event_is_400_never_500(api, base_url, database_url, shape):
    payload = json.dumps(MALFORMED[shape]).encode()
    response = _post(base_url, payload, _signed(payload))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_event"
    assert api.get("/usage").json()["plan"] == "free"
    assert _processed(database_url) == 0


def test_an_unknown_customer_is_parked_then_applied_when_checkout_links_it(
    api, base_url, database_url, monkeypatch, capsys
):
    """Out of order: the subscription event comes before the checkout that names the user.
    It is parked (never dropped), shown to the operator, and applied once the link arrives."""
    user_id = api.get("/me").json()["id"]
    early = _event("evt_sub", "created", NOW - 30, customer="cus_new")  # no metadata.user_id
    parked = _post(base_url, early, _signed(early))
    assert parked.status_code == 200 and parked.json()["status"] == "parked"
    assert api.get("/usage").json()["plan"] == "free"
    assert 'srs_billing_parked_events 1.0' in httpx.get(base_url + "/metrics").text
    assert _parked_listing(database_url, monkeypatch, capsys).startswith("evt_sub ")
    redelivered = _post(base_url, early, _signed(early))  # Stripe may send it again: still one
    assert redelivered.json()["status"] == "parked"

    checkout = json.dumps({
        "id": "evt_checkout", "type": "checkout.session.completed", "created": NOW - 20,
        "data": {"object": {"object": "checkout.session", "customer": "cus_new",
                            "client_reference_id": str(user_id), "mode": "subscription"}},
    }).encode()
    linked = _post(base_url, checkout, _signed(checkout))
    assert linked.status_code == 200 and linked.json()["status"] == "linked"
    upgraded = _user(database_url, user_id)
    assert upgraded.stripe_customer_id == "cus_new" and upgraded.plan == "pro"
    assert int(upgraded.plan_changed_at.timestamp()) == NOW - 30
    assert 'srs_billing_parked_events 0.0' in httpx.get(base_url + "/metrics").text
    assert "no parked billing events" in _parked_listing(database_url, monkeypatch, capsys)
    # The parked event counts as processed: a late redelivery is a duplicate, not a re-apply.
    assert _post(base_url, early, _signed(early)).json()["status"] == "duplicate"
    assert _processed(database_url) == 2


def _parked_listing(database_url: str, monkeypatch, capsys) -> str:
    from srs.cli import main
    from srs.kit.settings import get_settings

    monkeypatch.setenv("SRS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        capsys.readouterr()
        assert main(["billing", "parked"]) == 0
        return capsys.readouterr().out
    finally:
        get_settings.cache_clear()
