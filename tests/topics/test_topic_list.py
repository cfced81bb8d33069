"""GET /topics: each topic in the list carries its own counts, generation state and
verification switch, and the list costs the same statements for 2 topics as for 12 (it read
four statements a topic: 402 for the default page of 100 topics)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from srs.kit.db import utcnow
from srs.topics.models import Card
from tests.conftest import make_settings
from tests.generation.conftest import wait_for
from tests.study.test_statement_count import counting, engines


@pytest.fixture
def settings(database_url):
    # No worker or ticker: every statement counted is the list's own.
    return make_settings(
        database_url, plan_free_topics=20, worker_enabled=False, ticker_enabled=False
    )


PASSAGE = "The Loire is the longest river in France. It flows into the Bay of Biscay."


def _topic(api, prompt: str, cards: int, **patch) -> tuple[int, list[int]]:
    created = api.post("/topics", json={"prompt": prompt})
    assert created.status_code == 201, created.text
    topic_id = created.json()["id"]
    if patch:
        assert api.patch(f"/topics/{topic_id}", json=patch).status_code == 200
    ids = [
        api.post(f"/topics/{topic_id}/cards", json={"front": f"{prompt} {i}?", "back": "x"}).json()[
            "id"
        ]
        for i in range(cards)
    ]
    return topic_id, ids


def _fall_due(app, card_ids: list[int]) -> None:
    with app.state.db.transaction() as session:
        session.execute(
            update(Card).where(Card.id.in_(card_ids)).values(due=utcnow() - timedelta(minutes=5))
        )


def _listed(api) -> dict[int, dict]:
    response = api.get("/topics")
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


def test_each_listed_topic_has_its_own_counts_and_switch(api, app):
    studied, ids = _topic(api, "Studied", 5, new_per_day=3)
    for card_id, rating in ((ids[0], 1), (ids[1], 4)):  # Again: learning; Easy: review
        assert api.post(f"/cards/{card_id}/review", json={"rating": rating}).status_code == 200
    _fall_due(app, ids[:2])
    fresh, _ = _topic(api, "Fresh", 2)
    empty, _ = _topic(api, "Empty", 0)
    grounded, _ = _topic(api, "Grounded", 0)
    source = api.post(f"/topics/{grounded}/sources", json={"text": PASSAGE})
    assert source.status_code == 202, source.text
    wait_for(lambda: api.get(f"/sources/{source.json()['id']}").json()["status"] == "ready", 30)

    listed = _listed(api)
    # Two new cards answered today of the 3 allowed: one new card left of the 3 unseen.
    assert listed[studied]["counts"] == {"new": 1, "learning": 1, "review": 1, "ready": 3}
    assert listed[fresh]["counts"] == {"new": 2, "learning": 0, "review": 0, "ready": 2}
    assert listed[empty]["counts"] == {"new": 0, "learning": 0, "review": 0, "ready": 0}
    assert [listed[t]["verify_cards"] for t in (studied, fresh, grounded)] == [False, False, True]
    assert listed[studied]["new_per_day"] == 3
    for topic_id, item in listed.items():  # the list says what each topic's own page says
        assert item == api.get(f"/topics/{topic_id}").json()


def test_the_list_costs_the_same_statements_for_many_topics_as_for_two(api, app):
    def statements_for_a_list_of(topics: int) -> list[str]:
        with counting(engines(app.state.db)) as tally:
            assert len(_listed(api)) == topics
        return tally.statements

    for n in range(2):
        _topic(api, f"Topic {n}", 2)
    few = statements_for_a_list_of(2)
    for n in range(2, 12):
        _topic(api, f"Topic {n}", 2)
    many = statements_for_a_list_of(12)
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 5, "\n".join(many)  # the caller, the page, counts, jobs, sources
