"""Editing a topic's outline over HTTP: rename, remove, add; clear 4xx for bad input with the
outline left intact; other learners' topics are 404; deleting the topic deletes its outline."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from srs.kit.db import normalize_url
from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply, outline_xml

pytestmark = pytest.mark.slow


def _outline(api, topic_id):
    return api.get(f"/topics/{topic_id}/outline").json()["subtopics"]


@pytest.fixture
def topic(api, llm):
    """A topic whose first batch (three cards, before there was an outline) is in, whose
    outline (Rivers, Mountains, Islands) is written, and whose next three cards went to Rivers."""
    llm.script_outline([Reply(text=outline_xml(["Rivers", "Mountains", "Islands"]))])
    llm.script([Reply(text=batch_xml(capitals(3))), Reply(text=batch_xml(capitals(3, start=3)))])
    llm.default = Reply(status=400, error_message="no more batches in this test")
    created = api.post("/topics", json={"prompt": "Physical geography"}).json()
    wait_for(
        lambda: api.get(f"/topics/{created['id']}").json()["generation"]["status"] == "idle"
        and len(api.get(f"/topics/{created['id']}/cards").json()["items"]) == 6
    )
    return created


def test_rename_remove_and_add_persist_and_cards_follow(api, topic):
    rivers, mountains, islands = _outline(api, topic["id"])
    assert rivers["cards"] == 3
    body = {
        "subtopics": [
            {"id": islands["id"], "name": "Islands", "scope": islands["scope"]},
            {"id": rivers["id"], "name": "  Rivers and lakes ", "scope": "Fresh water"},
            {"name": "Volcanoes", "scope": "Eruptions and hot spots"},
        ]
    }
    answer = api.put(f"/topics/{topic['id']}/outline", json=body)
    assert answer.status_code == 200
    assert _outline(api, topic["id"]) == answer.json()["subtopics"]
    assert [(s["name"], s["scope"], s["cards"]) for s in answer.json()["subtopics"]] == [
        ("Islands", islands["scope"], 0),
        ("Rivers and lakes", "Fresh water", 3),
        ("Volcanoes", "Eruptions and hot spots", 0),
    ]
    cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
    assert [c["subtopic"]["name"] for c in cards if c["subtopic"]] == ["Rivers and lakes"] * 3
    # Removing a subtopic keeps its cards, with no subtopic.
    only_islands = {"subtopics": [{"id": islands["id"], "name": "Islands"}]}
    assert api.put(f"/topics/{topic['id']}/outline", json=only_islands).status_code == 200
    cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
    assert len(cards) == 6 and all(c["subtopic"] is None for c in cards)
    assert mountains["id"] not in [s["id"] for s in _outline(api, topic["id"])]


@pytest.mark.parametrize(
    "subtopics, message",
    [
        ([], "at least 1"),
        ([{"name": "   "}], "at least 1 character"),
        ([{"name": "x" * 121}], "at most 120"),
        ([{"name": "ok", "scope": "s" * 301}], "at most 300"),
        ([{"name": f"Part {i}"} for i in range(101)], "at most 100"),
        ([{"name": "Volcanoes"}, {"name": " volcanoes "}], "same name"),
        ([{"id": 999999, "name": "Ghost"}], "not in this topic"),
        ([{"name": "ok", "colour": "red"}], "colour"),
    ],
)
def test_bad_outlines_are_422_and_change_nothing(api, topic, subtopics, message):
    before = _outline(api, topic["id"])
    answer = api.put(f"/topics/{topic['id']}/outline", json={"subtopics": subtopics})
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["error"]["message"]
    assert _outline(api, topic["id"]) == before


def test_an_id_from_another_topic_is_422(api, topic, llm):
    llm.default = Reply()  # the other topic's first batch succeeds, so its outline is written
    other = api.post("/topics", json={"prompt": "Another topic"}).json()
    foreign = wait_for(lambda: _outline(api, other["id"]))[0]
    body = {"subtopics": [{"id": foreign["id"], "name": "Stolen"}]}
    assert api.put(f"/topics/{topic['id']}/outline", json=body).status_code == 422
    assert _outline(api, other["id"])[0]["name"] == foreign["name"]


def test_another_learners_outline_is_404(api, api_factory, topic):
    intruder = api_factory("intruder@example.com")
    assert intruder.get(f"/topics/{topic['id']}/outline").status_code == 404
    body = {"subtopics": [{"name": "Mine now"}]}
    assert intruder.put(f"/topics/{topic['id']}/outline", json=body).status_code == 404
    assert api.get("/topics/999999/outline").status_code == 404
    assert [s["name"] for s in _outline(api, topic["id"])] == ["Rivers", "Mountains", "Islands"]


def test_deleting_the_topic_deletes_its_outline(api, topic, database_url):
    assert api.delete(f"/topics/{topic['id']}").status_code == 204
    assert api.get(f"/topics/{topic['id']}/outline").status_code == 404
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM subtopics WHERE topic_id = :t"), {"t": topic["id"]}
        ).scalar()
    engine.dispose()
    assert left == 0


def test_a_subtopic_removed_while_its_batch_streams_leaves_the_cards_without_one(api, llm):
    llm.script_outline([Reply(text=outline_xml(["Rivers", "Mountains"]))])
    first = Reply(text=batch_xml(capitals(2)))  # before the outline: for no subtopic
    llm.script([first, Reply(text=batch_xml(capitals(6, start=2)), ttft=1.0, tokens_per_second=30)])
    llm.default = Reply(status=400, error_message="no more batches in this test")
    topic = api.post("/topics", json={"prompt": "Physical geography"}).json()
    wait_for(lambda: len(llm.requests) == 2)  # the batch for Rivers is streaming
    mountains = _outline(api, topic["id"])[1]
    only = {"subtopics": [{"id": mountains["id"], "name": "Mountains"}]}
    assert api.put(f"/topics/{topic['id']}/outline", json=only).status_code == 200
    wait_for(lambda: len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 8, timeout=60)
    cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
    assert all(c["subtopic"] is None for c in cards)
