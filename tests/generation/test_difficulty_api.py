"""Adaptive difficulty through the API: signals and first attempts steer the next batch."""

from __future__ import annotations

import re

import pytest

from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply

pytestmark = pytest.mark.slow


def _requested_level(llm, index: int) -> int:
    content = llm.requests[index].json["messages"][1]["content"]
    return int(re.search(r"Difficulty: (\d+) of 10", content).group(1))


def _ready_topic(api, llm, cards: int = 10):
    llm.script([Reply(text=batch_xml(capitals(cards)))])
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: api.get(f"/topics/{topic['id']}").json()["generation"]["status"] == "idle")
    return topic


def test_three_too_easy_signals_raise_the_level_of_the_very_next_batch(api, llm):
    topic = _ready_topic(api, llm)
    assert _requested_level(llm, 0) == 3
    levels = [api.post(f"/topics/{topic['id']}/feedback", json={"signal": "too_easy"}).json()["level"] for _ in range(3)]
    assert levels[0] == 4 and levels[-1] > levels[0]
    llm.script([Reply(text=batch_xml(capitals(10, start=10)))])
    api.post(f"/topics/{topic['id']}/generate")
    wait_for(lambda: len(llm.requests) == 2)
    assert _requested_level(llm, 1) == levels[-1]
    assert api.post(f"/topics/{topic['id']}/feedback", json={"signal": "meh"}).status_code == 422


def test_a_run_of_again_on_new_cards_lowers_the_level(api, llm):
    topic = _ready_topic(api, llm)
    for _ in range(3):
        card = api.get(f"/topics/{topic['id']}/next").json()["card"]
        api.post(f"/cards/{card['id']}/review", json={"rating": 1})
    after = api.get(f"/topics/{topic['id']}").json()
    assert after["level"] < 3 and after["recent_success"] == 0.0
    llm.script([Reply(text=batch_xml(capitals(10, start=10)))])
    api.post(f"/topics/{topic['id']}/generate")
    wait_for(lambda: len(llm.requests) == 2)
    assert _requested_level(llm, 1) == after["level"]


def test_undo_of_a_first_attempt_restores_the_level(api, llm):
    topic = _ready_topic(api, llm)
    card = api.get(f"/topics/{topic['id']}/next").json()["card"]
    api.post(f"/cards/{card['id']}/review", json={"rating": 1})
    lowered = api.get(f"/topics/{topic['id']}").json()["level_estimate"]
    assert lowered < 3
    api.post(f"/topics/{topic['id']}/undo")
    assert api.get(f"/topics/{topic['id']}").json()["level_estimate"] == 3
