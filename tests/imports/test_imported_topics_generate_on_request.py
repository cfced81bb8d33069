"""An imported deck does not call the LLM on its own: studying it queues no batch, and it is
not billed. Once the learner asks for new cards, it generates and counts toward the limit."""

from __future__ import annotations

import time

import pytest

from tests.generation.conftest import llm_settings
from tests.imports.test_anki_import import finished, upload
from tests.support.anki import anki_deck_with_history
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply, ScriptedLLMServer


@pytest.fixture
def llm():
    with ScriptedLLMServer(default=Reply(text=batch_xml(capitals(10)))) as server:
        yield server


@pytest.fixture
def settings(database_url, llm):
    return llm_settings(database_url, llm, plan_free_topics=1)


def test_imported_topic_generates_only_when_asked(api, llm, tmp_path):
    package, _ = anki_deck_with_history(
        tmp_path, basics=3, reversed_notes=0, cloze_notes=0, new_cards=3
    )
    job = finished(api, upload(api, package).json())
    topic_id = job["topic_ids"][0]
    for _ in range(3):  # study every new card: the buffer runs dry
        card = api.get(f"/topics/{topic_id}/next").json()["card"]
        if card is None:
            break
        api.post(f"/cards/{card['id']}/review", json={"rating": 4})
    time.sleep(1)
    topic = api.get(f"/topics/{topic_id}").json()
    assert topic["generation"]["status"] == "idle" and llm.requests == []
    assert api.get("/usage").json()["cards"]["used"] == 0
    own = api.post("/topics", json={"prompt": "My own topic"})
    assert own.status_code == 201  # the imported topic does not use the one-topic plan up
    asked = api.post(f"/topics/{topic_id}/generate")
    assert asked.status_code == 402  # now it would count: the plan allows one topic
    api.delete(f"/topics/{own.json()['id']}")
    asked = api.post(f"/topics/{topic_id}/generate")
    assert asked.status_code == 200 and asked.json()["generation"]["status"] in (
        "queued",
        "running",
    )
