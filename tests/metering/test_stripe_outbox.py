"""The usage outbox sends card and credit events to Stripe's meter events API (mocked)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import httpx
import respx

from srs.kit.db import utcnow
from srs.metering import repository
from srs.metering.periods import period_for
from srs.metering.stripe_sync import METER_EVENTS_URL, report_usage
from tests.conftest import make_settings
from tests.metering.conftest import add_user, events


def _bill(db, user_id: int, *keys: str) -> None:
    with db.transaction() as s:
        period = period_for(utcnow(), utcnow()).start
        for key in keys:
            kind = key.split(":")[0]
            repository.record(s, user_id=user_id, period_start=period, kind=kind,
                              quantity=-1 if kind == "credit" else 1, idempotency_key=key)
        repository.record(s, user_id=user_id, period_start=period, kind="tokens",
                          tokens_in=10, tokens_out=5, idempotency_key=f"tokens:{user_id}:1")


def test_unreported_events_are_sent_once_and_marked(db, database_url, caplog):
    known = add_user(db, "known@example.com", stripe_customer_id="cus_42")
    unknown = add_user(db, "unknown@example.com")
    _bill(db, known, "card:1:0", "card:1:1", "credit:7")
    _bill(db, unknown, "card:2:0")
    settings = make_settings(database_url, stripe_api_key="sk_test_123")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(METER_EVENTS_URL).mock(return_value=httpx.Response(200, json={}))
        with caplog.at_level(logging.INFO, logger="srs.metering.stripe_sync"):
            assert report_usage(db, settings) == 3
        assert report_usage(db, settings) == 0  # nothing left to send
    sent = [parse_qs(call.request.content.decode()) for call in route.calls]
    assert [s["identifier"][0] for s in sent] == ["card:1:0", "card:1:1", "credit:7"]
    assert [s["payload[value]"][0] for s in sent] == ["1", "1", "-1"]
    assert {s["payload[stripe_customer_id]"][0] for s in sent} == {"cus_42"}
    assert {s["event_name"][0] for s in sent} == {"srs_cards"}
    assert route.calls[0].request.headers["Authorization"] == "Bearer sk_test_123"
    assert all(e.reported_at is not None for e in events(db, known) if e.kind != "tokens")
    assert all(e.reported_at is None for e in events(db, unknown))
    assert f"users [{unknown}]" in caplog.text and "no stripe customer id" in caplog.text


def test_a_failure_leaves_the_event_for_the_next_tick(db, database_url):
    user_id = add_user(db, stripe_customer_id="cus_1")
    _bill(db, user_id, "card:1:0", "card:1:1")
    settings = make_settings(database_url, stripe_api_key="sk_test_123")
    with respx.mock() as mock:
        mock.post(METER_EVENTS_URL).mock(
            side_effect=[httpx.Response(200, json={}), httpx.Response(500, json={})]
        )
        assert report_usage(db, settings) == 1
    assert [e.reported_at is not None for e in events(db, user_id, "card")] == [True, False]


def test_reporting_is_off_without_an_api_key(db, database_url):
    user_id = add_user(db, stripe_customer_id="cus_1")
    _bill(db, user_id, "card:1:0")
    with respx.mock() as mock:  # any request would fail: none is routed
        assert report_usage(db, make_settings(database_url)) == 0
        assert not mock.calls
