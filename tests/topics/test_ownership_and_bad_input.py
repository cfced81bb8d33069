"""Another user's things are a 404; bad input is a clear 4xx that changes nothing."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def two_users(api_factory):
    alice = api_factory("alice@example.com")
    bob = api_factory("bob@example.com")
    topic = alice.post("/topics", json={"prompt": "Alice's topic"}).json()
    card = alice.post(f"/topics/{topic['id']}/cards", json={"front": "Q?", "back": "A"}).json()
    return alice, bob, topic, card


def test_user_b_gets_404_on_everything_of_user_a(two_users, base_url):
    alice, bob, topic, card = two_users
    t, c = topic["id"], card["id"]
    attempts = [
        ("GET", f"/topics/{t}", None),
        ("PATCH", f"/topics/{t}", {"title": "mine"}),
        ("DELETE", f"/topics/{t}", None),
        ("GET", f"/topics/{t}/cards", None),
        ("GET", f"/topics/{t}/duplicates", None),
        ("GET", f"/topics/{t}/held-back", None),
        ("GET", f"/cards?topic_id={t}", None),
        ("POST", f"/topics/{t}/cards", {"front": "x", "back": "y"}),
        ("POST", f"/topics/{t}/archive", None),
        ("POST", f"/topics/{t}/unarchive", None),
        ("POST", "/cards/bulk", {"ids": [c], "action": "delete"}),
        ("GET", f"/topics/{t}/next", None),
        ("POST", f"/topics/{t}/undo", None),
        ("POST", f"/topics/{t}/generate", None),
        ("POST", f"/topics/{t}/feedback", {"signal": "too_easy"}),
        ("GET", f"/topics/{t}/export.csv", None),
        ("GET", f"/topics/{t}/export.apkg", None),
        ("GET", f"/topics/{t}/outline", None),
        ("PUT", f"/topics/{t}/outline", {"subtopics": [{"name": "mine"}]}),
        ("POST", f"/topics/{t}/sources", {"text": "mine"}),
        ("GET", f"/topics/{t}/sources", None),
        ("GET", f"/stats?topic_id={t}", None),
        ("GET", f"/cards/{c}", None),
        ("PATCH", f"/cards/{c}", {"front": "mine"}),
        ("DELETE", f"/cards/{c}", None),
        ("POST", f"/cards/{c}/review", {"rating": 3}),
        ("POST", f"/cards/{c}/suspend", None),
        ("POST", f"/cards/{c}/unsuspend", None),
        ("POST", f"/cards/{c}/bury", None),
        ("POST", f"/cards/{c}/flag", {"reason": "x"}),
        ("POST", f"/cards/{c}/unflag", None),
        ("GET", f"/cards/{c}/passage", None),
        ("POST", f"/cards/{c}/rewrite", None),
    ]
    # Every endpoint that takes a topic or card id is in the list above.
    spec = httpx.get(base_url + "/openapi.json").json()
    with_ids = {
        (method.upper(), path.removeprefix("/api/v1").replace("{topic_id}", str(t)).replace("{card_id}", str(c)))
        for path, operations in spec["paths"].items()
        if "{topic_id}" in path or "{card_id}" in path
        for method in operations
    }
    assert with_ids <= {(m, p.split("?")[0]) for m, p, _ in attempts}, with_ids - {(m, p) for m, p, _ in attempts}
    for method, path, body in attempts:
        response = bob.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert bob.get("/topics").json()["items"] == []
    assert bob.get("/cards").json()["items"] == []
    # Alice's data is untouched.
    assert alice.get(f"/topics/{t}").json()["title"] == "Alice's topic"
    assert alice.get(f"/cards/{c}").json()["front"] == "Q?"
    assert alice.get(f"/cards/{c}").json()["reps"] == 0
    assert alice.get(f"/topics/{t}").json()["level"] == 3


def test_not_signed_in_is_401(base_url):
    for method, path in [("GET", "/topics"), ("POST", "/topics"), ("GET", "/topics/1/next"), ("POST", "/cards/1/review")]:
        response = httpx.request(method, f"{base_url}/api/v1{path}", json={})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    bad = httpx.get(f"{base_url}/api/v1/topics", headers={"Authorization": "Bearer srs_forged"})
    assert bad.status_code == 401


def test_bad_input_is_4xx_and_changes_nothing(two_users, base_url):
    alice, _bob, topic, card = two_users
    t, c = topic["id"], card["id"]
    cases = [
        ("POST", "/topics", {"prompt": ""}, 422),
        ("POST", "/topics", {"prompt": "   "}, 422),
        ("POST", "/topics", {"prompt": "x" * 501}, 422),
        ("POST", "/topics", {"prompt": 42}, 422),
        ("POST", "/topics", {"topic": "extra field"}, 422),
        ("POST", f"/topics/{t}/cards", {"front": "", "back": "b"}, 422),
        ("POST", f"/topics/{t}/cards", {"front": "f"}, 422),
        ("POST", f"/cards/{c}/review", {"rating": 0}, 422),
        ("POST", f"/cards/{c}/review", {"rating": 5}, 422),
        ("POST", f"/cards/{c}/review", {"rating": "good"}, 422),
        ("POST", f"/cards/{c}/review", {"rating": 3, "duration_ms": -1}, 422),
        ("POST", f"/cards/{c}/flag", {"reason": ""}, 422),
        ("PATCH", f"/topics/{t}", {"title": ""}, 422),
        ("GET", "/topics/999999", None, 404),
        ("GET", "/topics/not-a-number", None, 422),
        ("GET", "/topics/1000000000000000000000000000000", None, 422),
        ("POST", "/cards/99999999999999/review", {"rating": 3}, 422),
        ("GET", "/topics/0", None, 422),
        ("GET", f"/topics/{t}/next?wait=31", None, 422),
        ("GET", f"/topics/{t}/next?wait=-1", None, 422),
        ("POST", "/cards/999999/review", {"rating": 3}, 404),
    ]
    for method, path, body, status in cases:
        response = alice.request(method, path, json=body)
        assert response.status_code == status, (method, path, body, response.text)
        assert "error" in response.json() and response.json()["error"]["message"]

    malformed = alice.post("/topics", content=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422
    huge = alice.post(f"/topics/{t}/cards", content=b'{"front": "' + b"x" * 200_000 + b'", "back": "b"}',
                      headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "payload_too_large"

    assert [x["id"] for x in alice.get("/topics").json()["items"]] == [t]
    cards = alice.get(f"/topics/{t}/cards").json()["items"]
    assert [(x["front"], x["back"], x["reps"], x["flag_reason"]) for x in cards] == [("Q?", "A", 0, None)]
