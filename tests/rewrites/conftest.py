from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from srs.kit.db import Database
from srs.topics.models import Card
from tests.conftest import Api
from tests.generation.conftest import llm_settings
from tests.support.llm_server import ScriptedLLMServer
from tests.support.server import running_app

# Again on a card in review is a lapse: Easy first puts a new card in review, then each
# (Again, Easy) is one lapse and brings it back to review.
FIRST_ANSWER = 4
LAPSE = (1, 4)


@pytest.fixture
def llm():
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def server(database_url, llm):
    # No generation worker: only the rewrite requests reach the scripted model, in order (the
    # service then builds the configured provider itself, as an API-only process does).
    settings = llm_settings(database_url, llm, worker_enabled=False)
    with running_app(settings) as (base_url, app):
        yield base_url, app


@pytest.fixture
def api(server) -> Api:
    client = Api(server[0])
    client.signup("leech@example.com")
    return client


def new_topic(api: Api) -> int:
    response = api.post("/topics", json={"prompt": "Cell biology"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def add_card(api: Api, topic_id: int, front: str, back: str) -> dict:
    response = api.post(f"/topics/{topic_id}/cards", json={"front": front, "back": back})
    assert response.status_code == 201, response.text
    return response.json()


def review(api: Api, card_id: int, rating: int) -> dict:
    response = api.post(f"/cards/{card_id}/review", json={"rating": rating})
    assert response.status_code == 200, response.text
    return response.json()["card"]


def fail(api: Api, card_id: int, lapses: int) -> dict:
    """Answer the card into review, then let it lapse `lapses` times."""
    card = review(api, card_id, FIRST_ANSWER)
    for _ in range(lapses):
        for rating in LAPSE:
            card = review(api, card_id, rating)
    return card


def make_due(database_url: str, card_id: int) -> None:
    """Time passing: the card falls due now (its relearning step is ten minutes)."""
    db = Database(database_url)
    try:
        with db.transaction(write=True) as session:
            past = datetime.now(UTC) - timedelta(minutes=1)
            session.execute(update(Card).where(Card.id == card_id).values(due=past))
    finally:
        db.dispose()
