"""The issue's scenario over real HTTP: sign up, a topic, three hand-written cards, study, undo."""

from __future__ import annotations

from datetime import datetime, timezone


def _due(card: dict) -> datetime:
    return datetime.fromisoformat(card["due"])


def test_study_three_hand_written_cards_and_undo(api):
    topic = api.post("/topics", json={"prompt": "  Capitals of Europe  "}).json()
    assert topic["prompt"] == "Capitals of Europe"
    assert topic["generation"]["status"] in {"queued", "running", "failed"}
    for front, back in [("Capital of France?", "Paris"), ("Capital of Spain?", "Madrid"), ("Capital of Italy?", "Rome")]:
        created = api.post(f"/topics/{topic['id']}/cards", json={"front": front, "back": back})
        assert created.status_code == 201
        assert created.json()["model"] is None and created.json()["state"] == "new"

    first = api.get(f"/topics/{topic['id']}/next").json()
    assert first["card"]["front"] == "Capital of France?"  # new cards in the order they were added
    assert first["counts"] == {"new": 3, "learning": 0, "review": 0, "ready": 3}
    assert set(first["card"]["intervals"]) == {"1", "2", "3", "4"}
    assert first["card"]["intervals"]["1"] == 60 and first["card"]["intervals"]["3"] == 600

    reviewed = api.post(f"/cards/{first['card']['id']}/review", json={"rating": 3, "duration_ms": 1800})
    assert reviewed.status_code == 200
    after = reviewed.json()["card"]
    assert after["state"] == "learning"
    wait = (_due(after) - datetime.now(timezone.utc)).total_seconds()
    assert 590 <= wait <= 600  # Good on a new card: the 10-minute learning step

    second = api.get(f"/topics/{topic['id']}/next").json()
    assert second["card"]["front"] == "Capital of Spain?"
    assert second["counts"]["new"] == 2

    undone = api.post(f"/topics/{topic['id']}/undo")
    assert undone.status_code == 200
    restored = undone.json()["card"]
    assert restored["id"] == first["card"]["id"]
    assert restored["state"] == "new" and restored["due"] == first["card"]["due"] and restored["reps"] == 0
    again = api.get(f"/topics/{topic['id']}/next").json()
    assert again["card"]["id"] == first["card"]["id"]
    assert again["counts"]["new"] == 3

    nothing = api.post(f"/topics/{topic['id']}/undo")
    assert nothing.status_code == 409


def test_again_brings_the_card_back_within_minutes(api):
    topic = api.post("/topics", json={"prompt": "Chemistry"}).json()
    card = api.post(f"/topics/{topic['id']}/cards", json={"front": "Symbol for gold?", "back": "Au"}).json()
    before = datetime.fromisoformat(api.get(f"/topics/{topic['id']}/next").json()["card"]["due"])
    answered = api.post(f"/cards/{card['id']}/review", json={"rating": 1}).json()["card"]
    wait = (_due(answered) - before).total_seconds()
    assert 0 < wait <= 5 * 60
    nothing_now = api.get(f"/topics/{topic['id']}/next").json()
    assert nothing_now["card"] is None
    assert nothing_now["counts"]["learning"] == 0 and nothing_now["next_due"] is not None


def test_suspend_bury_flag_edit_delete(api):
    topic = api.post("/topics", json={"prompt": "Biology"}).json()
    ids = [
        api.post(f"/topics/{topic['id']}/cards", json={"front": f"Q{i}?", "back": f"A{i}"}).json()["id"]
        for i in range(3)
    ]
    assert api.post(f"/cards/{ids[0]}/suspend").json()["suspended"] is True
    assert api.post(f"/cards/{ids[1]}/bury").json()["buried_until"] is not None
    nxt = api.get(f"/topics/{topic['id']}/next").json()
    assert nxt["card"]["id"] == ids[2] and nxt["counts"]["new"] == 1
    assert api.post(f"/cards/{ids[0]}/review", json={"rating": 3}).status_code == 409
    assert api.post(f"/cards/{ids[0]}/unsuspend").json()["suspended"] is False

    flagged = api.post(f"/cards/{ids[2]}/flag", json={"reason": "The answer is wrong"}).json()
    assert flagged["flag_reason"] == "The answer is wrong" and flagged["suspended"] is True
    assert api.get(f"/topics/{topic['id']}/next").json()["card"]["id"] != ids[2]
    unflagged = api.post(f"/cards/{ids[2]}/unflag").json()
    assert unflagged["flag_reason"] is None and unflagged["suspended"] is False
    api.post(f"/cards/{ids[2]}/flag", json={"reason": "The answer is wrong"})
    edited = api.patch(f"/cards/{ids[2]}", json={"back": "  A2 fixed "}).json()
    assert edited["back"] == "A2 fixed" and edited["front"] == "Q2?"
    assert api.delete(f"/cards/{ids[2]}").status_code == 204
    assert api.get(f"/cards/{ids[2]}").status_code == 404
    assert len(api.get(f"/topics/{topic['id']}/cards").json()["items"]) == 2


def test_topic_rename_and_delete(api):
    topic = api.post("/topics", json={"prompt": "A" * 500}).json()
    assert len(topic["title"]) <= 80
    renamed = api.patch(f"/topics/{topic['id']}", json={"title": "Letters", "new_per_day": 5}).json()
    assert renamed["title"] == "Letters" and renamed["new_per_day"] == 5
    assert [t["id"] for t in api.get("/topics").json()["items"]] == [topic["id"]]
    assert api.delete(f"/topics/{topic['id']}").status_code == 204
    assert api.get(f"/topics/{topic['id']}").status_code == 404
    assert api.get("/topics").json() == {"items": [], "next_cursor": None}
