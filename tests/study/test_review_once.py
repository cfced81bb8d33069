"""Idempotent answers (review_id) and one round trip per step (?next=1)."""

from __future__ import annotations

from sqlalchemy import func, select

from srs.kit.db import Database
from srs.study.models import ReviewLog


def _topic_with_cards(api, *fronts: str) -> tuple[int, list[int]]:
    topic = api.post("/topics", json={"prompt": "Chemistry"}).json()
    ids = [
        api.post(f"/topics/{topic['id']}/cards", json={"front": f, "back": f + "!"}).json()["id"]
        for f in fronts
    ]
    return topic["id"], ids


def _logs(database_url: str) -> int:
    db = Database(database_url)
    try:
        with db.transaction(write=False) as s:
            return int(s.scalar(select(func.count()).select_from(ReviewLog)))
    finally:
        db.dispose()


def test_a_repeated_review_id_reviews_once(api, database_url):
    _, (card_id,) = _topic_with_cards(api, "Symbol for gold?")
    body = {"rating": 3, "review_id": "step-1"}
    first = api.post(f"/cards/{card_id}/review", json=body)
    again = api.post(f"/cards/{card_id}/review", json=body)  # as after a lost response
    assert first.status_code == again.status_code == 200
    assert again.json()["card"]["due"] == first.json()["card"]["due"]
    assert again.json()["card"]["reps"] == 1
    assert _logs(database_url) == 1


def test_a_review_id_reused_for_another_card_is_refused(api, database_url):
    _, (gold, iron) = _topic_with_cards(api, "Symbol for gold?", "Symbol for iron?")
    assert api.post(f"/cards/{gold}/review", json={"rating": 3, "review_id": "x"}).status_code == 200
    refused = api.post(f"/cards/{iron}/review", json={"rating": 3, "review_id": "x"})
    assert refused.status_code == 409
    assert _logs(database_url) == 1


def test_a_too_long_review_id_is_refused(api):
    _, (card_id,) = _topic_with_cards(api, "Symbol for gold?")
    response = api.post(f"/cards/{card_id}/review", json={"rating": 3, "review_id": "x" * 65})
    assert response.status_code == 422


def test_review_with_next_answers_the_following_card(api):
    topic_id, (gold, iron) = _topic_with_cards(api, "Symbol for gold?", "Symbol for iron?")
    answer = api.post(f"/cards/{gold}/review", params={"next": 1}, json={"rating": 3})
    assert answer.status_code == 200
    step = answer.json()["next"]
    assert step["card"]["id"] == iron
    assert set(step) >= {"card", "counts", "generation"}
    # The same answer as a GET next right after (the generation state may move on between
    # the two: a refill asked for by the review).
    again = api.get(f"/topics/{topic_id}/next").json()
    assert {k: v for k, v in step.items() if k != "generation"} == {
        k: v for k, v in again.items() if k != "generation"
    }
    plain = api.post(f"/cards/{iron}/review", json={"rating": 3}).json()
    assert plain["next"] is None
