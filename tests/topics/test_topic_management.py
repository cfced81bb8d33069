"""Managing topics: the paginated list, rename and settings, generation on and off, archive
(keeps the cards, stops generation, frees a slot of the free plan's topic limit)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from srs.accounts.models import User
from srs.generation.models import GenerationJob
from srs.kit.db import utcnow
from srs.metering import service as metering
from tests.conftest import make_settings


@pytest.fixture
def settings(database_url):
    # No worker and no ticker: a queued batch stays queued, so what pausing does to it shows.
    return make_settings(
        database_url, worker_enabled=False, ticker_enabled=False, rate_topics_per_hour=1000
    )


def _make_pro(app, email: str) -> None:
    with app.state.db.transaction() as session:
        user = session.query(User).filter_by(email=email).one()
        metering.set_plan(session, app.state.settings, user, "pro", utcnow())


def _pages(api, path: str, limit: int) -> list[dict]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def test_the_topic_list_pages_newest_first_without_repeats_or_gaps(api, app):
    _make_pro(app, "ada@example.com")
    created = [api.post("/topics", json={"prompt": f"Topic {i}"}).json()["id"] for i in range(7)]

    first = api.get("/topics", params={"limit": 3}).json()
    assert [t["id"] for t in first["items"]] == created[::-1][:3]
    # A topic created between two pages does not shift the pages that follow.
    newer = api.post("/topics", json={"prompt": "Created while paging"}).json()["id"]
    rest = api.get("/topics", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    last = api.get("/topics", params={"limit": 3, "cursor": rest["next_cursor"]}).json()
    assert [t["id"] for t in rest["items"] + last["items"]] == created[::-1][3:]
    assert last["next_cursor"] is None

    everything = _pages(api, "/topics", 3)
    assert [len(p["items"]) for p in everything] == [3, 3, 2]
    assert [t["id"] for p in everything for t in p["items"]] == [newer] + created[::-1]
    whole = api.get("/topics").json()  # the default page (100) holds them all
    assert [t["id"] for t in whole["items"]] == [newer] + created[::-1]
    assert whole["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
        {"cursor": "not a cursor"},
        {"cursor": "W10"},  # base64 of "[]": decodes, but is no cursor
        {"cursor": "x" * 201},
    ],
)
def test_bad_paging_is_a_clear_422(api, params):
    api.post("/topics", json={"prompt": "Capitals"})
    response = api.get("/topics", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"
    assert api.get("/topics", params={"limit": 500}).status_code == 200


def test_a_cursor_of_another_list_is_refused(api):
    topic = api.post("/topics", json={"prompt": "Capitals"}).json()
    for i in range(2):
        api.post(f"/topics/{topic['id']}/cards", json={"front": f"Q{i}?", "back": "A"})
    cards_cursor = api.get("/cards", params={"limit": 1}).json()["next_cursor"]
    refused = api.get("/topics", params={"cursor": cards_cursor})
    assert refused.status_code == 422
    assert "cursor" in refused.json()["error"]["message"]


def test_rename_and_per_topic_settings(api):
    topic = api.post("/topics", json={"prompt": "Spanish verbs"}).json()
    assert topic["new_per_day"] == 20 and topic["new_per_day_override"] is None

    changed = api.patch(f"/topics/{topic['id']}", json={"title": "Verbos", "new_per_day": 5}).json()
    assert (changed["title"], changed["new_per_day"], changed["new_per_day_override"]) == (
        "Verbos",
        5,
        5,
    )
    for i in range(8):
        api.post(f"/topics/{topic['id']}/cards", json={"front": f"Verb {i}?", "back": "x"})
    assert api.get(f"/topics/{topic['id']}").json()["counts"]["new"] == 5

    back_to_default = api.patch(f"/topics/{topic['id']}", json={"new_per_day": None}).json()
    assert back_to_default["new_per_day"] == 20 and back_to_default["new_per_day_override"] is None
    assert back_to_default["title"] == "Verbos"
    assert api.get("/topics").json()["items"][0]["title"] == "Verbos"

    for bad in (
        {"title": ""},
        {"new_per_day": -1},
        {"new_per_day": 1001},
        {"generation_enabled": "off"},
    ):
        assert api.patch(f"/topics/{topic['id']}", json=bad).status_code == 422, bad
    assert api.get(f"/topics/{topic['id']}").json()["title"] == "Verbos"


def test_generation_off_queues_nothing_and_shows_paused(api):
    topic = api.post("/topics", json={"prompt": "Chemistry"}).json()
    assert topic["generation"]["status"] == "queued"

    paused = api.patch(f"/topics/{topic['id']}", json={"generation_enabled": False}).json()
    assert paused["generation_enabled"] is False
    assert paused["generation"] == {"status": "paused", "error": None, "cards_in_flight": 0}
    refused = api.post(f"/topics/{topic['id']}/generate")
    assert refused.status_code == 409
    assert "turned off" in refused.json()["error"]["message"]
    # Studying (and the refill after an answer) queues nothing either.
    card = api.post(f"/topics/{topic['id']}/cards", json={"front": "H2O?", "back": "Water"}).json()
    assert api.post(f"/cards/{card['id']}/review", json={"rating": 3}).status_code == 200
    assert api.get(f"/topics/{topic['id']}").json()["generation"]["status"] == "paused"

    resumed = api.patch(f"/topics/{topic['id']}", json={"generation_enabled": True}).json()
    assert resumed["generation_enabled"] is True
    assert resumed["generation"]["status"] == "queued"
    assert resumed["generation"]["cards_in_flight"] > 0


def test_archive_keeps_cards_stops_generation_and_frees_a_topic_slot(api):
    topics = [api.post("/topics", json={"prompt": f"Topic {i}"}).json() for i in range(3)]
    full = api.post("/topics", json={"prompt": "One too many"})
    assert full.status_code == 402 and full.json()["error"]["code"] == "quota_exceeded"
    first = topics[0]["id"]
    card = api.post(f"/topics/{first}/cards", json={"front": "Kept?", "back": "Yes"}).json()

    archived = api.post(f"/topics/{first}/archive").json()
    assert archived["archived"] is True and archived["archived_at"] is not None
    assert archived["generation"]["status"] == "paused"
    assert archived["generation"]["cards_in_flight"] == 0
    assert api.post(f"/topics/{first}/archive").json()["archived_at"] == archived["archived_at"]
    assert [c["id"] for c in api.get(f"/topics/{first}/cards").json()["items"]] == [card["id"]]
    assert api.post(f"/topics/{first}/generate").status_code == 409
    assert api.get("/usage").json()["topics"]["active"] == 2

    fourth = api.post("/topics", json={"prompt": "Now it fits"})
    assert fourth.status_code == 201, fourth.text

    # Unarchiving over the limit says so, and changes nothing.
    refused = api.post(f"/topics/{first}/unarchive")
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "3 active topics" in error["message"] and "Topic 0" in error["message"]
    assert api.get(f"/topics/{first}").json()["archived"] is True

    assert api.delete(f"/topics/{topics[1]['id']}").status_code == 204
    active = api.post(f"/topics/{first}/unarchive").json()
    assert active["archived"] is False and active["archived_at"] is None
    assert active["generation"]["status"] == "queued"  # writing again
    assert api.get("/usage").json()["topics"]["active"] == 3


def test_turning_generation_off_gives_back_what_queued_batches_held(api, app):
    topic = api.post("/topics", json={"prompt": "Physics"}).json()
    # A batch that failed once waits in the queue for its retry, holding its cards meanwhile.
    with app.state.db.transaction() as session:
        job = session.scalars(
            select(GenerationJob).where(GenerationJob.topic_id == topic["id"])
        ).one()
        user = session.get(User, job.user_id)
        hold = metering.reserve_for_job(
            session, app.state.settings, user,
            key=None, topic_id=job.topic_id, wanted=job.requested, now=utcnow(),
        )
        job.reservation_key = hold.key
    assert hold.count == 10
    assert api.get("/usage").json()["cards"]["reserved"] == 10

    api.patch(f"/topics/{topic['id']}", json={"generation_enabled": False})
    assert api.get("/usage").json()["cards"]["reserved"] == 0
    with app.state.db.transaction(write=False) as session:
        assert session.get(GenerationJob, job.id).status == "cancelled"
