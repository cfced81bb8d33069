"""Metering that cannot be gamed, over real HTTP with the scripted LLM: flagging refunds at
most the documented cap, unflagging bills again, and deleting and recreating topics (which
makes SQLite hand out deleted row ids again) never leaves a generated card unbilled."""

from __future__ import annotations

from collections import Counter as Tally

import pytest
from sqlalchemy import select

from srs.generation.models import GenerationJob
from srs.kit.db import Database
from srs.metering import service
from srs.metering.models import UsageEvent
from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml
from tests.support.llm_server import Reply
from tests.support.server import running_app

pytestmark = pytest.mark.slow

SETTLED = {"idle", "quota_exceeded", "failed"}


def fresh_cards(tag: str, count: int = 10) -> list[tuple[str, str]]:
    """Cards no earlier batch had (dedup keeps them all)."""
    return [(f"What does the term {tag}w{n} mean?", f"Meaning {tag} {n}") for n in range(count)]


def _settle(api: Api, topic_id: int) -> dict:
    return wait_for(
        lambda: (t := api.get(f"/topics/{topic_id}").json())["generation"]["status"] in SETTLED
        and t,
        timeout=30,
    )


def _cards(api: Api, topic_id: int) -> list[dict]:
    return api.get(f"/topics/{topic_id}/cards").json()["items"]


def _ledger(database_url: str, user_id: int) -> list[UsageEvent]:
    db = Database(database_url)
    with db.transaction(write=False) as s:
        rows = list(s.scalars(select(UsageEvent).where(UsageEvent.user_id == user_id)))
    db.dispose()
    return rows


def _assert_ledger_is_clean(database_url: str, user_id: int, used: int) -> None:
    ledger = _ledger(database_url, user_id)
    assert all(n == 1 for n in Tally(e.idempotency_key for e in ledger).values())
    assert sum(e.quantity for e in ledger) == used


def test_flag_abuse_yields_no_more_than_the_limit_plus_the_refund_cap(database_url, llm):
    llm.script([Reply(text=batch_xml(fresh_cards(f"r{n}"))) for n in range(6)])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    settings = llm_settings(database_url, llm, plan_free_cards=10, refund_percent=10)
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        user_id = api.signup("flagger@example.com")["user"]["id"]
        topic_id = api.post("/topics", json={"prompt": "Jargon"}).json()["id"]
        _settle(api, topic_id)
        for _ in range(3):  # "generate, flag everything", as in the issue
            for card in _cards(api, topic_id):
                if card["flag_reason"] is None:
                    flagged = api.post(f"/cards/{card['id']}/flag", json={"reason": "wrong"})
                    assert flagged.status_code == 200 and flagged.json()["suspended"] is True
            if api.post(f"/topics/{topic_id}/generate").status_code == 200:
                _settle(api, topic_id)
        usage = api.get("/usage").json()
        kept = _cards(api, topic_id)
        nothing = api.get(f"/topics/{topic_id}/next").json()
    assert usage["refunds"]["limit"] == 1 and usage["refunds"]["used"] == 1
    assert "Good or Easy" in usage["refunds"]["rule"]
    assert len(kept) == 10 + usage["refunds"]["limit"]  # the limit plus the cap, not 30
    assert usage["cards"]["used"] == 10 and usage["cards"]["reserved"] == 0
    assert nothing["card"] is None  # every flagged card left the study queue
    _assert_ledger_is_clean(database_url, user_id, usage["cards"]["used"])


def test_unflag_bills_again_and_flag_unflag_cycles_give_nothing(database_url, llm):
    llm.script([Reply(text=batch_xml(fresh_cards("u")))])
    settings = llm_settings(database_url, llm, plan_free_cards=20, refund_percent=10)
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        user_id = api.signup("cycler@example.com")["user"]["id"]
        topic_id = api.post("/topics", json={"prompt": "Jargon"}).json()["id"]
        _settle(api, topic_id)
        first, good, again, *_ = [c["id"] for c in _cards(api, topic_id)]

        def used() -> int:
            return api.get("/usage").json()["cards"]["used"]

        assert used() == 10
        for _ in range(3):  # flag, flag, unflag, unflag: never a net free card
            api.post(f"/cards/{first}/flag", json={"reason": "wrong"})
            api.post(f"/cards/{first}/flag", json={"reason": "still wrong"})
            assert used() == 9
            back = api.post(f"/cards/{first}/unflag").json()
            assert back["suspended"] is False and back["flag_reason"] is None
            api.post(f"/cards/{first}/unflag")
            assert used() == 10
        assert api.get(f"/topics/{topic_id}/next").json()["card"]["id"] == first

        api.post(f"/cards/{first}/flag", json={"reason": "wrong"})
        assert used() == 9
        assert api.post(f"/cards/{first}/unsuspend").json()["flag_reason"] is None
        assert used() == 10  # unsuspending a refunded card is taking the flag back

        assert api.post(f"/cards/{good}/review", json={"rating": 3}).status_code == 200
        assert api.post(f"/cards/{good}/flag", json={"reason": "wrong"}).json()["suspended"]
        assert used() == 10  # answered Good once: learnt from, not refunded
        assert api.post(f"/cards/{again}/review", json={"rating": 1}).status_code == 200
        api.post(f"/cards/{again}/flag", json={"reason": "wrong"})
        assert used() == 9  # only ever answered Again: refunded
        usage = api.get("/usage").json()
    assert usage["refunds"] == {**usage["refunds"], "used": 1, "limit": 2}
    _assert_ledger_is_clean(database_url, user_id, 9)


def test_delete_and_recreate_bills_every_card_once_even_when_ids_are_reused(database_url, llm):
    """Topics made, generated, flagged and deleted until the quota is gone. On SQLite the new
    jobs get the deleted jobs' ids; billing keys come from metering's own random keys."""
    llm.script([Reply(text=batch_xml(fresh_cards(f"d{n}"))) for n in range(6)])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    settings = llm_settings(
        database_url, llm, plan_free_cards=25, plan_free_topics=1, refund_percent=10
    )
    db = Database(database_url)
    generated, job_ids = 0, []
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        user_id = api.signup("recreator@example.com")["user"]["id"]
        for n in range(5):
            topic_id = api.post("/topics", json={"prompt": f"Jargon {n}"}).json()["id"]
            _settle(api, topic_id)
            cards = _cards(api, topic_id)
            generated += len(cards)
            for card in cards:
                api.post(f"/cards/{card['id']}/flag", json={"reason": "wrong"})
            with db.transaction(write=False) as s:
                job_ids += s.scalars(
                    select(GenerationJob.id).where(GenerationJob.topic_id == topic_id)
                ).all()
            assert api.delete(f"/topics/{topic_id}").status_code == 204
        usage = api.get("/usage").json()
    drift = service.reconcile(db)
    db.dispose()
    if db.is_sqlite:
        assert len(set(job_ids)) < len(job_ids), "the test must make SQLite reuse a job id"
    refunded = usage["refunds"]["used"]
    assert refunded == usage["refunds"]["limit"] == 2
    assert generated == 25 + refunded  # the limit plus the cap, however often ids repeat
    assert usage["cards"]["used"] + refunded == generated  # every card billed exactly once
    assert usage["cards"]["reserved"] == 0 and drift == 0
    ledger = _ledger(database_url, user_id)
    assert len([e for e in ledger if e.kind == "card"]) == generated
    _assert_ledger_is_clean(database_url, user_id, usage["cards"]["used"])


def test_deleting_a_topic_frees_its_held_cards_at_once(database_url, llm):
    slow = Reply(text=batch_xml(fresh_cards("s")), tokens_per_second=15, chunk_chars=6)
    llm.script([slow])
    settings = llm_settings(database_url, llm, plan_free_cards=10)
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("deleter@example.com")
        topic_id = api.post("/topics", json={"prompt": "Jargon"}).json()["id"]
        wait_for(lambda: api.get(f"/topics/{topic_id}").json()["counts"]["ready"] >= 1)
        during = api.get("/usage").json()["cards"]
        assert during["reserved"] > 0 and during["used"] + during["reserved"] == 10
        assert api.delete(f"/topics/{topic_id}").status_code == 204
        after = api.get("/usage").json()["cards"]
        assert after["reserved"] == 0  # not at the next reconcile: now
        topic = api.post("/topics", json={"prompt": "Something else"}).json()
        assert topic["generation"]["status"] == "queued"  # the freed cards are usable at once
