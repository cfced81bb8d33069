"""The card browser's API: the cards of a topic or of all topics, paged, searched in front and
back (wildcards taken literally, any case), filtered by state, and changed in bulk, all or
nothing."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, worker_enabled=False, ticker_enabled=False)


def _card(api, topic_id: int, front: str, back: str = "x") -> dict:
    response = api.post(f"/topics/{topic_id}/cards", json={"front": front, "back": back})
    assert response.status_code == 201, response.text
    return response.json()


def _fronts(api, path: str = "/cards", **params) -> list[str]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return [c["front"] for c in response.json()["items"]]


def test_cards_page_in_creation_order_across_topics_and_per_topic(api):
    a = api.post("/topics", json={"prompt": "A"}).json()["id"]
    b = api.post("/topics", json={"prompt": "B"}).json()["id"]
    made = [_card(api, a if i % 2 else b, f"Q{i}?")["id"] for i in range(7)]

    seen, cursor, sizes = [], None, []
    while True:
        page = api.get(
            "/cards", params={"limit": 3} | ({"cursor": cursor} if cursor else {})
        ).json()
        sizes.append(len(page["items"]))
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made and sizes == [3, 3, 1]

    in_a = api.get(f"/topics/{a}/cards", params={"limit": 2}).json()
    assert [c["id"] for c in in_a["items"]] == made[1::2][:2]
    more = api.get(f"/topics/{a}/cards", params={"limit": 2, "cursor": in_a["next_cursor"]}).json()
    assert [c["id"] for c in more["items"]] == made[1::2][2:]
    assert more["next_cursor"] is None
    assert [c["id"] for c in api.get("/cards", params={"topic_id": b}).json()["items"]] == made[::2]

    for params in (
        {"limit": 0},
        {"limit": 501},
        {"cursor": "%%%"},
        {"state": "mature"},
        {"topic_id": 0},
        {"topic_id": 2**31},
        {"q": "x" * 201},
    ):
        response = api.get("/cards", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "invalid"


def test_search_takes_wildcards_literally_and_ignores_case(api):
    t = api.post("/topics", json={"prompt": "Search"}).json()["id"]
    _card(api, t, "Am I 100% sure?", "yes")
    _card(api, t, "Am I 1000 sure?", "no")
    _card(api, t, "Name style: snake_case", "lower with underscores")
    _card(api, t, "Name style: snakeXcase", "not a thing")
    _card(api, t, "Path separator on Windows?", "a back\\slash")
    _card(api, t, "Capital of France?", "PARIS")
    _card(api, t, "Où est l'ÉCOLE ?", "là")

    assert _fronts(api, q="%") == ["Am I 100% sure?"]
    assert _fronts(api, q="0%") == ["Am I 100% sure?"]
    assert _fronts(api, q="_") == ["Name style: snake_case"]
    assert _fronts(api, q="snake_") == ["Name style: snake_case"]
    assert _fronts(api, q="\\") == ["Path separator on Windows?"]
    assert _fronts(api, q="paris") == ["Capital of France?"]  # in the back, another case
    assert _fronts(api, q="CAPITAL") == ["Capital of France?"]
    assert _fronts(api, q="école") == ["Où est l'ÉCOLE ?"]  # beyond ASCII too
    assert _fronts(api, q="underscores") == ["Name style: snake_case"]
    assert _fronts(api, f"/topics/{t}/cards", q="sure") == ["Am I 100% sure?", "Am I 1000 sure?"]
    assert _fronts(api, q="nothing like this") == []
    assert len(_fronts(api, q="")) == 7


def test_state_filters(api):
    t = api.post("/topics", json={"prompt": "States"}).json()["id"]
    new = _card(api, t, "Still new?")
    learning = _card(api, t, "Learning?")
    review = _card(api, t, "In review?")
    suspended = _card(api, t, "Suspended?")
    flagged = _card(api, t, "Flagged?")
    assert api.post(f"/cards/{learning['id']}/review", json={"rating": 1}).status_code == 200
    assert api.post(f"/cards/{review['id']}/review", json={"rating": 4}).status_code == 200
    assert api.post(f"/cards/{suspended['id']}/suspend").status_code == 200
    assert api.post(f"/cards/{flagged['id']}/flag", json={"reason": "wrong"}).status_code == 200

    assert _fronts(api, state="learning") == ["Learning?"]
    assert _fronts(api, state="review") == ["In review?"]
    # Flagging a card takes it out of the study queue: it is suspended too.
    assert _fronts(api, state="suspended") == ["Suspended?", "Flagged?"]
    assert _fronts(api, state="flagged") == ["Flagged?"]
    # "new" is the scheduling state: a suspended or flagged card never studied is new too.
    assert set(_fronts(api, state="new")) == {"Still new?", "Suspended?", "Flagged?"}
    assert _fronts(api, f"/topics/{t}/cards", state="suspended", q="SUSP") == ["Suspended?"]
    assert _fronts(api, state="suspended", q="new") == []
    assert new["state"] == "new"


def test_bulk_actions_are_all_or_nothing(api_factory):
    ada = api_factory("ada@example.com")
    bob = api_factory("bob@example.com")
    t = ada.post("/topics", json={"prompt": "Mine"}).json()["id"]
    mine = [_card(ada, t, f"Q{i}?")["id"] for i in range(4)]
    theirs = _card(bob, bob.post("/topics", json={"prompt": "Bob's"}).json()["id"], "Bob's?")["id"]

    for ids in ([*mine, theirs], [*mine, 999_999]):
        refused = ada.post("/cards/bulk", json={"ids": ids, "action": "delete"})
        assert refused.status_code == 404, refused.text
        assert "nothing was changed" in refused.json()["error"]["message"]
        refused = ada.post("/cards/bulk", json={"ids": ids, "action": "suspend"})
        assert refused.status_code == 404
    assert _fronts(ada, state="suspended") == []
    assert len(_fronts(ada)) == 4
    assert bob.get(f"/cards/{theirs}").json()["suspended"] is False

    done = ada.post("/cards/bulk", json={"ids": mine[:3] + mine[:1], "action": "suspend"})
    assert done.status_code == 200 and done.json() == {"action": "suspend", "count": 3}
    assert _fronts(ada, state="suspended") == ["Q0?", "Q1?", "Q2?"]
    next_card = ada.get(f"/topics/{t}/next").json()["card"]
    assert next_card["front"] == "Q3?"  # suspended cards left the study queue

    assert (
        ada.post("/cards/bulk", json={"ids": mine[:2], "action": "unsuspend"}).json()["count"] == 2
    )
    assert _fronts(ada, state="suspended") == ["Q2?"]

    assert ada.post("/cards/bulk", json={"ids": mine[1:3], "action": "delete"}).json()["count"] == 2
    assert _fronts(ada) == ["Q0?", "Q3?"]
    assert ada.get(f"/cards/{mine[1]}").status_code == 404

    for body in (
        {"ids": [], "action": "delete"},
        {"ids": mine, "action": "bury"},
        {"ids": [0], "action": "delete"},
        {"ids": list(range(1, 502)), "action": "suspend"},
        {"ids": mine, "action": "delete", "extra": 1},
        {"ids": "1,2", "action": "delete"},
    ):
        bad = ada.post("/cards/bulk", json=body)
        assert bad.status_code == 422, (body, bad.text)
    assert _fronts(ada) == ["Q0?", "Q3?"]


def test_another_learners_cards_are_invisible(api_factory):
    ada = api_factory("ada@example.com")
    bob = api_factory("bob@example.com")
    t = ada.post("/topics", json={"prompt": "Private"}).json()["id"]
    _card(ada, t, "Ada's secret question?", "Ada's secret answer")

    assert bob.get("/cards").json() == {"items": [], "next_cursor": None}
    assert bob.get("/cards", params={"q": "secret"}).json()["items"] == []
    for path, params in ((f"/topics/{t}/cards", {}), ("/cards", {"topic_id": t})):
        hidden = bob.get(path, params=params)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    assert _fronts(ada, q="secret") == ["Ada's secret question?"]
