"""The usage outbox sends card and credit events to Stripe's meter events API (mocked)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import httpx
import respx

from srs.kit import metrics
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


def test_a_failing_event_waits_for_the_next_tick_without_blocking_the_others(db, database_url):
    user_id = add_user(db, stripe_customer_id="cus_1")
    _bill(db, user_id, "card:a:0", "card:a:1", "card:a:2")
    settings = make_settings(database_url, stripe_api_key="sk_test_123")
    with respx.mock() as mock:
        mock.post(METER_EVENTS_URL).mock(
            side_effect=[httpx.Response(200, json={}), httpx.Response(500, json={}),
                         httpx.Response(200, json={}), httpx.Response(200, json={})]
        )
        assert report_usage(db, settings) == 2  # the 500 did not stop the third event
        assert [e.reported_at is not None for e in events(db, user_id, "card")] == [True, False, True]
        assert report_usage(db, settings) == 1  # retried on the next tick
    assert all(e.reported_at is not None for e in events(db, user_id, "card"))


def test_a_refused_event_is_skipped_counted_and_never_blocks_other_users(db, database_url, caplog):
    bad = add_user(db, "bad@example.com", stripe_customer_id="cus_deleted")
    good = add_user(db, "good@example.com", stripe_customer_id="cus_ok")
    _bill(db, bad, "card:b:0")
    _bill(db, good, "card:g:0", "card:g:1")
    settings = make_settings(database_url, stripe_api_key="sk_test_123")
    refused_before = metrics.USAGE_REPORTS_REFUSED._value.get()

    def stripe_answer(request):
        customer = parse_qs(request.content.decode())["payload[stripe_customer_id]"][0]
        if customer == "cus_deleted":
            return httpx.Response(400, json={"error": {"message": "No such customer"}})
        return httpx.Response(200, json={})

    with respx.mock() as mock:
        route = mock.post(METER_EVENTS_URL).mock(side_effect=stripe_answer)
        with caplog.at_level(logging.ERROR, logger="srs.metering.stripe_sync"):
            assert report_usage(db, settings) == 2
        assert report_usage(db, settings) == 0  # the refused event is not sent again
    assert route.call_count == 3
    [refused] = events(db, bad, "card")
    assert refused.refused_at is not None and refused.reported_at is None
    assert all(e.reported_at is not None for e in events(db, good, "card"))
    assert metrics.USAGE_REPORTS_REFUSED._value.get() == refused_before + 1
    assert "card:b:0" in caplog.text and "No such customer" in caplog.text


def test_a_rate_limit_ends_the_round(db, database_url):
    user_id = add_user(db, stripe_customer_id="cus_1")
    _bill(db, user_id, "card:r:0", "card:r:1")
    settings = make_settings(database_url, stripe_api_key="sk_test_123")
    with respx.mock() as mock:
        route = mock.post(METER_EVENTS_URL).mock(return_value=httpx.Response(429, json={}))
        assert report_usage(db, settings) == 0
    assert route.call_count == 1
    assert all(e.reported_at is None and e.refused_at is None for e in events(db, user_id, "card"))


def test_reporting_is_off_without_an_api_key(db, database_url):
    user_id = add_user(db, stripe_customer_id="cus_1")
    _bill(db, user_id, "card:1:0")
    with respx.mock() as mock:  # any request would fail: none is routed
        assert report_usage(db, make_settings(database_url)) == 0
        assert not mock.calls
