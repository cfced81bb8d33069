"""Undo takes back exactly what the answer changed, and nothing pressed since."""

from __future__ import annotations


def _topic_with_card(api) -> tuple[dict, dict]:
    topic = api.post("/topics", json={"prompt": "Undo"}).json()
    card = api.post(f"/topics/{topic['id']}/cards", json={"front": "Q", "back": "A"}).json()
    return topic, card


def test_too_easy_pressed_after_the_answer_survives_the_undo(api):
    topic, card = _topic_with_card(api)
    level = api.get(f"/topics/{topic['id']}").json()["level"]
    assert api.post(f"/cards/{card['id']}/review", json={"rating": 3}).status_code == 200
    harder = api.post(f"/topics/{topic['id']}/feedback", json={"signal": "too_easy"}).json()
    assert harder["level"] == level + 1
    undone = api.post(f"/topics/{topic['id']}/undo")
    assert undone.status_code == 200 and undone.json()["card"]["state"] == "new"
    assert api.get(f"/topics/{topic['id']}").json()["level"] == level + 1


def test_too_hard_before_the_answer_is_kept_and_the_answer_alone_undone(api):
    topic, card = _topic_with_card(api)
    easier = api.post(f"/topics/{topic['id']}/feedback", json={"signal": "too_hard"}).json()
    api.post(f"/cards/{card['id']}/review", json={"rating": 1})
    api.post(f"/topics/{topic['id']}/undo")
    assert api.get(f"/topics/{topic['id']}").json()["level"] == easier["level"]


def test_a_buried_card_answered_anyway_is_buried_again_after_undo(api):
    topic, card = _topic_with_card(api)
    buried = api.post(f"/cards/{card['id']}/bury").json()
    assert buried["buried_until"] is not None
    answered = api.post(f"/cards/{card['id']}/review", json={"rating": 3}).json()["card"]
    assert answered["buried_until"] is None
    restored = api.post(f"/topics/{topic['id']}/undo").json()["card"]
    assert restored["buried_until"] == buried["buried_until"]
    assert restored["state"] == "new" and restored["reps"] == 0
