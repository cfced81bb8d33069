"""Generation end to end: the app's worker streams from a scripted LLM server over real HTTP."""

from __future__ import annotations

import time

import pytest

from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply, outline_xml
from tests.support.server import running_app

pytestmark = pytest.mark.slow


def _cards(api, topic_id):
    return api.get(f"/topics/{topic_id}/cards").json()["items"]


def _topic(api, topic_id):
    return api.get(f"/topics/{topic_id}").json()


def test_first_card_reaches_a_long_polling_client_before_the_stream_ends(api, llm):
    llm.script([Reply(text=batch_xml(capitals(10)), ttft=0.2, tokens_per_second=60, chunk_chars=6)])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 20})
    received = time.monotonic()
    body = answer.json()
    assert body["card"]["front"] == "What is the capital of France?"
    assert body["card"]["model"] == "scripted-model" and body["card"]["level"] == 3
    assert body["generation"]["status"] == "running"
    last_card_sent = wait_for(
        lambda: next((t for t, text in llm.emitted[0] if text.count("</card>") == 10), None)
    )
    assert received < last_card_sent - 1.0, "the first card must not wait for the whole batch"
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
    fronts = [c["front"] for c in _cards(api, topic["id"])]
    assert fronts == [f for f, _ in capitals(10)]
    request = llm.requests[0].json
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert "European capitals" in request["messages"][1]["content"]


def test_no_provider_configured_is_a_visible_error_and_no_card(database_url):
    from tests.conftest import Api, make_settings

    with running_app(make_settings(database_url, llm_provider="")) as (base_url, _app):
        api = Api(base_url)
        api.signup("nokey@example.com")
        topic = api.post("/topics", json={"prompt": "Rust lifetimes"}).json()
        failed = wait_for(lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t)
        assert "SRS_LLM_PROVIDER" in failed["generation"]["error"]
        answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 2}).json()
        assert answer["card"] is None and answer["generation"]["status"] == "failed"
        assert _cards(api, topic["id"]) == []


def test_disconnect_mid_stream_keeps_the_cards_and_asks_only_for_the_rest(api, llm):
    text = batch_xml(capitals(10))
    cut = text.index("</card>", text.index("Italy")) + len("</card>") + 5  # three whole cards
    llm.script([
        Reply(text=text, disconnect_after_chars=cut, tokens_per_second=400),
        Reply(text=batch_xml(capitals(7, start=3))),
    ])
    llm.default = Reply(status=500)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: len(_cards(api, topic["id"])) == 10)
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
    fronts = [c["front"] for c in _cards(api, topic["id"])]
    assert fronts == [f for f, _ in capitals(10)]
    assert "exactly 7 new cards" in llm.requests[1].json["messages"][1]["content"]
    assert "What is the capital of Italy?" in llm.requests[1].json["messages"][1]["content"]


def test_rate_limited_then_success(api, llm):
    llm.script([Reply(status=429, headers={"Retry-After": "0"}), Reply(text=batch_xml(capitals(10)))])
    llm.default = Reply(status=500)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle" and len(_cards(api, topic["id"])) == 10)
    assert len(llm.requests) == 2


def test_repeated_server_errors_fail_visibly_with_the_providers_message(api, llm):
    llm.default = Reply(status=500, error_message="upstream exploded")
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    failed = wait_for(lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t, timeout=30)
    assert "upstream exploded" in failed["generation"]["error"]
    assert _cards(api, topic["id"]) == []
    # Retry asks again and succeeds.
    llm.default = Reply(text=batch_xml(capitals(10)))
    retried = api.post(f"/topics/{topic['id']}/generate").json()
    assert retried["generation"]["status"] == "queued" and retried["generation"]["error"] is None
    wait_for(lambda: len(_cards(api, topic["id"])) == 10)


def test_malformed_xml_keeps_good_cards_and_reports_bad_replies(api, llm):
    good = batch_xml(capitals(2))
    broken = "<cards><card><front>Where is Rome?</back></card></cards>"
    llm.script([Reply(text=good.replace("</cards>", "") + "<card><front>x</front><back>y</oops>")])
    llm.default = Reply(text=broken)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: len(_cards(api, topic["id"])) == 2)
    failed = wait_for(lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t, timeout=30)
    assert "not usable card XML" in failed["generation"]["error"]
    assert [c["front"] for c in _cards(api, topic["id"])] == [f for f, _ in capitals(2)]


def test_duplicates_are_rejected_across_batches_and_a_repeating_model_stops(api, llm):
    paraphrases = [("What's the capital of France", "Paris"), ("What is the capital of Spain? (beginner)", "Madrid")]
    llm.script_outline([Reply(text=outline_xml(["Capital cities"]))])  # every batch on one subtopic
    llm.script([Reply(text=batch_xml(capitals(3)))])
    llm.default = Reply(text=batch_xml(capitals(3) + paraphrases))
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    failed = wait_for(lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t, timeout=30)
    assert "repeating" in failed["generation"]["error"]
    assert [c["front"] for c in _cards(api, topic["id"])] == [f for f, _ in capitals(3)]
    # Each repeat is on record, never dropped silently (each batch stops at its third repeat
    # in a row, before the paraphrases).
    rejected = api.get(f"/topics/{topic['id']}/duplicates").json()["items"]
    assert {r["front"] for r in rejected} == {f for f, _ in capitals(3)}


def test_studying_refills_the_buffer_before_it_runs_dry(api, llm):
    llm.script([Reply(text=batch_xml(capitals(6))), Reply(text=batch_xml(capitals(10, start=6)))])
    llm.default = Reply(status=500)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle" and len(_cards(api, topic["id"])) == 6)
    assert len(llm.requests) == 1
    for _ in range(2):  # 6 unseen -> 4 unseen: below the threshold of 5
        card = api.get(f"/topics/{topic['id']}/next").json()["card"]
        api.post(f"/cards/{card['id']}/review", json={"rating": 3})
    wait_for(lambda: len(_cards(api, topic["id"])) == 16)
    assert len(llm.requests) == 2


def test_long_poll_returns_promptly_when_nothing_can_arrive(api, llm):
    llm.default = Reply(status=401, error_message="bad key")
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "failed")
    started = time.monotonic()
    answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 20}).json()
    assert time.monotonic() - started < 2
    assert answer["card"] is None and "bad key" in answer["generation"]["error"]


def test_stalled_stream_times_out(database_url, llm):
    from tests.conftest import Api

    text = batch_xml(capitals(4))
    two_cards = text.index("</card>", text.index("Spain")) + len("</card>")
    llm.default = Reply(text=text, stall_after_chars=two_cards)
    settings = llm_settings(database_url, llm, llm_chunk_timeout=0.5)
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("slow@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        failed = wait_for(lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t, timeout=30)
        assert "timeout" in failed["generation"]["error"].lower() or "timed out" in failed["generation"]["error"].lower()
        # The two cards that arrived before the stall were kept, once each.
        assert [c["front"] for c in _cards(api, topic["id"])] == [f for f, _ in capitals(2)]


def test_a_model_writing_more_than_asked_gets_exactly_the_batch(api, llm, database_url):
    from sqlalchemy import select

    from srs.generation.models import GenerationJob
    from srs.kit.db import Database

    llm.script([Reply(text=batch_xml(capitals(14)))])
    llm.default = Reply(status=500)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
    assert [c["front"] for c in _cards(api, topic["id"])] == [f for f, _ in capitals(10)]
    db = Database(database_url)
    with db.transaction(write=False) as s:
        job = s.scalars(select(GenerationJob).where(GenerationJob.kind == "cards")).one()
        assert (job.status, job.saved, job.attempts) == ("done", 10, 1)
    db.dispose()


def test_a_stream_cut_after_the_last_wanted_card_is_done_not_retried(api, llm):
    text = batch_xml(capitals(10))
    cut = text.rindex("</card>") + len("</card>")
    llm.script([Reply(text=text, disconnect_after_chars=cut)])
    llm.default = Reply(status=500)
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "idle")
    assert len(_cards(api, topic["id"])) == 10 and len(llm.requests) == 1
