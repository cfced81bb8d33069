"""Quotas as a learner meets them through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from srs.accounts.models import User
from srs.kit.db import Database, utcnow
from srs.metering import repository
from srs.metering.periods import period_for
from tests.conftest import Api, make_settings
from tests.generation.conftest import llm_settings, wait_for
from tests.metering.conftest import events
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply
from tests.support.server import running_app

pytestmark = pytest.mark.slow


def _topic(api, topic_id):
    return api.get(f"/topics/{topic_id}").json()


def _study(api, topic_id, reviews: int) -> None:
    for _ in range(reviews):
        card = api.get(f"/topics/{topic_id}/next").json()["card"]
        assert api.post(f"/cards/{card['id']}/review", json={"rating": 3}).status_code == 200


def test_a_free_learner_who_uses_up_the_quota_keeps_studying(database_url, llm):
    llm.script([Reply(text=batch_xml(capitals(10))), Reply(text=batch_xml(capitals(2, start=10)))])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    with running_app(llm_settings(database_url, llm, plan_free_cards=12)) as (base_url, _app):
        api = Api(base_url)
        api.signup("quota@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
        _study(api, topic["id"], 6)  # 4 unseen left: a refill is asked, and shrunk to 2 cards
        wait_for(lambda: (t := _topic(api, topic["id"]))["counts"]["new"] == 6 and t["generation"]["status"] == "idle")
        assert "exactly 2 new cards" in llm.requests[1].json["messages"][1]["content"]
        _study(api, topic["id"], 2)  # below the threshold again, but nothing is left
        stopped = _topic(api, topic["id"])["generation"]
        assert stopped["status"] == "quota_exceeded"
        assert "Free" in stopped["error"] and "12" in stopped["error"] and "resets" in stopped["error"]
        assert api.get(f"/topics/{topic['id']}/next").json()["card"] is not None
        refused = api.post(f"/topics/{topic['id']}/generate")
        assert refused.status_code == 402 and refused.json()["error"]["code"] == "quota_exceeded"
        usage = api.get("/usage").json()
        assert usage["cards"] == {"used": 12, "limit": 12, "reserved": 0}
        assert usage["tokens"]["input"] > 0 and usage["topics"] == {"active": 1, "limit": 3}
        assert [p["name"] for p in usage["plans"]] == ["free", "pro"]
        assert len(llm.requests) == 2


def test_the_free_topic_limit_is_402_and_creates_nothing(database_url):
    with running_app(make_settings(database_url, plan_free_topics=2)) as (base_url, _app):
        api = Api(base_url)
        api.signup("topics@example.com")
        for prompt in ("One", "Two"):
            assert api.post("/topics", json={"prompt": prompt}).status_code == 201
        refused = api.post("/topics", json={"prompt": "Three"})
        assert refused.status_code == 402
        error = refused.json()["error"]
        assert error["code"] == "quota_exceeded" and "Free" in error["message"] and "2" in error["message"]
        assert len(api.get("/topics").json()["items"]) == 2


def test_usage_rolls_over_at_the_anchor(database_url):
    db = Database(database_url)
    now = utcnow()
    anchor = (now - timedelta(days=40)).replace(microsecond=0)
    current = period_for(anchor, now)
    previous = period_for(anchor, current.start - timedelta(seconds=1))
    with running_app(make_settings(database_url)) as (base_url, _app):
        api = Api(base_url)
        user_id = api.signup("anchor@example.com")["user"]["id"]
        with db.transaction() as s:
            s.get(User, user_id).plan_anchor = anchor
            for n in range(3):
                repository.record(s, user_id=user_id, period_start=previous.start, kind="card",
                                  quantity=1, idempotency_key=f"card:old:{n}")
            repository.change(s, user_id, previous.start, used=3)
        usage = api.get("/usage").json()
    db.dispose()
    assert usage["period_start"].startswith(current.start.strftime("%Y-%m-%dT%H:%M:%S"))
    assert usage["period_end"].startswith(current.end.strftime("%Y-%m-%dT%H:%M:%S"))
    assert current.start <= now < current.end and current.start > anchor
    assert usage["cards"]["used"] == 0
    assert usage["past_periods"] == [
        {"period_start": usage["past_periods"][0]["period_start"], "cards_used": 3, "tokens_in": 0, "tokens_out": 0}
    ]
    assert usage["past_periods"][0]["period_start"].startswith(previous.start.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_wrong_card_flagged_in_its_period_is_credited_once(database_url, llm):
    llm.default = Reply(text=batch_xml(capitals(10)))
    db = Database(database_url)
    with running_app(llm_settings(database_url, llm, refund_percent=10)) as (base_url, _app):
        api = Api(base_url)
        user_id = api.signup("refund@example.com")["user"]["id"]
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
        cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
        assert api.get("/usage").json()["cards"]["used"] == 10
        for _ in range(2):  # flagging twice credits once
            assert api.post(f"/cards/{cards[0]['id']}/flag", json={"reason": "wrong"}).status_code == 200
        usage = api.get("/usage").json()
        assert usage["cards"]["used"] == 9 and usage["refunds"]["used"] == 1
        assert usage["refunds"]["limit"] == 20  # 10% of the free plan's 200 cards
        manual = api.post(f"/topics/{topic['id']}/cards", json={"front": "Mine?", "back": "Yes"}).json()
        api.post(f"/cards/{manual['id']}/flag", json={"reason": "wrong"})
        assert api.get("/usage").json()["cards"]["used"] == 9  # hand-written cards were never billed
        with db.transaction() as s:  # a new period begins: last period's cards are not refunded
            s.get(User, user_id).plan_anchor = utcnow() - timedelta(days=40)
        api.post(f"/cards/{cards[1]['id']}/flag", json={"reason": "wrong"})
        assert api.get("/usage").json()["refunds"]["used"] == 0
    credits = events(db, user_id, "credit")
    db.dispose()
    [card_event] = [e for e in events(db, user_id, "card") if e.card_id == cards[0]["id"]]
    assert [(e.quantity, e.idempotency_key) for e in credits] == [
        (-1, f"credit:{card_event.idempotency_key}:1")
    ]
