"""Upgrade and Manage billing, through the official stripe library against a local HTTP double
of Stripe's API on 127.0.0.1."""

from __future__ import annotations

import pytest

from srs.accounts.models import User
from srs.kit.db import Database
from tests.conftest import Api, make_settings
from tests.support.server import running_app
from tests.support.stripe_server import StripeDouble


@pytest.fixture
def stripe_api():
    with StripeDouble() as double:
        yield double


def _billing_settings(database_url: str, stripe_api: StripeDouble, **overrides):
    values = {
        "stripe_api_key": "sk_test_123",
        "stripe_price_pro": "price_pro_monthly",
        "stripe_api_base": stripe_api.base_url,
        "public_url": "https://srs.example.org",
    }
    values.update(overrides)
    return make_settings(database_url, **values)


def test_upgrade_creates_a_checkout_session_on_the_local_stripe_double(database_url, stripe_api):
    with running_app(_billing_settings(database_url, stripe_api)) as (base_url, _app):
        api = Api(base_url)
        user = api.signup("payer@example.com")["user"]
        response = api.post("/billing/checkout")
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith(stripe_api.checkout_url)
    [sent] = stripe_api.requests
    assert sent.path == "/v1/checkout/sessions"
    assert sent.headers["authorization"] == "Bearer sk_test_123"
    assert sent.form["mode"] == "subscription"
    assert sent.form["line_items[0][price]"] == "price_pro_monthly"
    assert sent.form["client_reference_id"] == str(user["id"])
    assert sent.form["subscription_data[metadata][user_id]"] == str(user["id"])
    assert sent.form["customer_email"] == "payer@example.com"
    assert sent.form["success_url"] == "https://srs.example.org/?billing=success"
    assert sent.form["cancel_url"] == "https://srs.example.org/?billing=cancelled"


def test_manage_billing_opens_the_portal_on_the_local_stripe_double(database_url, stripe_api):
    with running_app(_billing_settings(database_url, stripe_api)) as (base_url, _app):
        api = Api(base_url)
        user_id = api.signup("portal@example.com")["user"]["id"]
        before = api.post("/billing/portal")
        assert before.status_code == 409  # no billing account before the first checkout
        db = Database(database_url)
        with db.transaction() as s:
            s.get(User, user_id).stripe_customer_id = "cus_portal"
        db.dispose()
        response = api.post("/billing/portal")
        again = api.post("/billing/checkout")  # a known customer checks out as that customer
    assert response.status_code == 200 and response.json()["url"].startswith(stripe_api.portal_url)
    portal = stripe_api.requests[0]
    assert portal.path == "/v1/billing_portal/sessions"
    assert portal.form == {"customer": "cus_portal", "return_url": "https://srs.example.org/"}
    assert again.status_code == 200
    assert stripe_api.requests[1].form["customer"] == "cus_portal"
    assert "customer_email" not in stripe_api.requests[1].form


def test_a_stripe_failure_is_a_clear_502_on_the_local_stripe_double(database_url, stripe_api):
    stripe_api.fail_next(400)
    with running_app(_billing_settings(database_url, stripe_api)) as (base_url, _app):
        api = Api(base_url)
        api.signup("refused@example.com")
        response = api.post("/billing/checkout")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "billing_unavailable"


@pytest.mark.parametrize("missing", ["stripe_api_key", "stripe_price_pro"])
def test_without_stripe_keys_billing_is_503_not_configured(database_url, stripe_api, missing):
    settings = _billing_settings(database_url, stripe_api, **{missing: None})
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("nokeys@example.com")
        checkout = api.post("/billing/checkout")
        portal = api.post("/billing/portal")
    assert checkout.status_code == 503
    assert checkout.json()["error"]["code"] == "billing_not_configured"
    assert "SRS_" + missing.upper() in checkout.json()["error"]["message"]
    if missing == "stripe_api_key":
        assert portal.status_code == 503
    assert stripe_api.requests == []
