"""Changing the password, signing out everywhere, deleting the account with all its data, and
downloading it first, over real HTTP on both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import create_engine, func, or_, select, text, update

from srs.kit.db import normalize_url, utcnow
from srs.models import Base, User
from srs.topics.models import Card
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply, ScriptedLLMServer
from tests.support.server import running_app

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple gun 42 orbit"


def _login(api_factory, email: str, password: str) -> httpx.Response:
    return api_factory().post("/auth/login", json={"email": email, "password": password})


def _engine(database_url: str):
    return create_engine(normalize_url(database_url))


# -- password ---------------------------------------------------------------------------------


def test_change_password_keeps_this_session_and_revokes_the_others(api, api_factory):
    other = api_factory()
    other.http.headers["Authorization"] = (
        "Bearer " + _login(api_factory, "ada@example.com", PASSWORD).json()["token"]
    )
    assert other.get("/me").status_code == 200

    changed = api.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204, changed.text
    assert api.get("/me").status_code == 200  # this session stays
    assert other.get("/me").status_code == 401  # every other one is signed out
    assert _login(api_factory, "ada@example.com", PASSWORD).status_code == 401
    assert _login(api_factory, "ada@example.com", NEW_PASSWORD).status_code == 200


def test_change_password_refuses_a_wrong_current_or_a_weak_new_one(api, api_factory):
    wrong = api.post(
        "/me/password", json={"current_password": "not my password", "new_password": NEW_PASSWORD}
    )
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "wrong_password"
    for weak in ("short", "aaaaaaaaaaaa", "p" * 300, ""):
        response = api.post(
            "/me/password", json={"current_password": PASSWORD, "new_password": weak}
        )
        assert response.status_code == 422, weak
        assert response.json()["error"]["code"] == "invalid"
    assert api.post("/me/password", json={"new_password": NEW_PASSWORD}).status_code == 422
    # Nothing changed: the old password still works, the session too.
    assert _login(api_factory, "ada@example.com", PASSWORD).status_code == 200
    assert api.get("/me").status_code == 200


def test_cookie_session_survives_its_own_password_change(base_url, api_factory):
    with httpx.Client(base_url=base_url + "/api/v1") as browser:
        assert (
            browser.post(
                "/auth/signup", json={"email": "web@example.com", "password": PASSWORD}
            ).status_code
            == 201
        )
        csrf = {"X-CSRF-Token": browser.cookies["srs_csrf"]}
        forged = browser.post(
            "/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
        changed = browser.post(
            "/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        )
        assert changed.status_code == 204
        assert browser.get("/me").status_code == 200
        # Sign out everywhere ends this cookie session too.
        assert browser.post("/auth/logout-all", headers=csrf).status_code == 204
        assert browser.get("/me").status_code == 401
    assert _login(api_factory, "web@example.com", NEW_PASSWORD).status_code == 200


def test_password_guessing_from_a_session_is_rate_limited(api):
    answers = [
        api.post(
            "/me/password", json={"current_password": f"guess {n}", "new_password": NEW_PASSWORD}
        ).status_code
        for n in range(12)
    ]
    assert answers[:10] == [403] * 10 and answers[10:] == [429, 429]


# -- deleting the account ---------------------------------------------------------------------


@pytest.fixture
def llm():
    with ScriptedLLMServer(default=Reply(text=batch_xml(capitals(5)))) as server:
        yield server


@pytest.fixture
def server(database_url, llm):
    with running_app(llm_settings(database_url, llm, batch_size=5, refill_below=0)) as (
        base_url,
        app,
    ):
        yield base_url, app


def _fill_account(api) -> dict:
    """A topic with generated cards (jobs, usage ledger rows), a hand-written card, reviews,
    a flag (a credit), a second session, and a source's usage row that outlived the source
    (its topic deleted)."""
    pasted = api.post("/sources", json={"text": "The capital of Malta is Valletta."}).json()
    wait_for(lambda: api.get(f"/sources/{pasted['id']}").json()["status"] == "ready")
    assert api.delete(f"/topics/{pasted['topic_id']}").status_code == 204
    topic = api.post("/topics", json={"prompt": "Capitals of Europe"}).json()
    wait_for(lambda: api.get(f"/topics/{topic['id']}").json()["counts"]["ready"] >= 5)
    wait_for(lambda: api.get(f"/topics/{topic['id']}").json()["generation"]["status"] == "idle")
    api.post(f"/topics/{topic['id']}/cards", json={"front": "Mine?", "back": "Yes"})
    for rating in (3, 4):
        card = api.get(f"/topics/{topic['id']}/next").json()["card"]
        api.post(f"/cards/{card['id']}/review", json={"rating": rating})
    card = api.get(f"/topics/{topic['id']}/next").json()["card"]
    api.post(f"/cards/{card['id']}/flag", json={"reason": "wrong"})
    api.post("/auth/login", json={"email": api.get("/me").json()["email"], "password": PASSWORD})
    return topic


_OWNED = ("users", "topics", "cards", "generation_jobs")


def _owned_ids(engine, user_id: int) -> dict[str, list[int]]:
    """The ids of the user's own rows in the tables other tables hang from."""
    with engine.connect() as conn:
        ids = {
            name: [
                r[0]
                for r in conn.execute(
                    text(f"SELECT id FROM {name} WHERE user_id = :u"), {"u": user_id}
                )
            ]
            for name in _OWNED[1:]
        }
    return {"users": [user_id], **ids}


def _rows_of(engine, owned: dict[str, list[int]]) -> dict[str, int]:
    """Rows of every table in srs.models that belong to the user: the user row, rows with their
    user_id, and rows whose foreign keys point at their users/topics/cards/jobs rows (so a table
    added later is checked too)."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            where = []
            if table.name in owned:
                where.append(table.c.id.in_(owned[table.name]))
            if "user_id" in table.c:
                where.append(table.c.user_id.in_(owned["users"]))
            for key in table.foreign_keys:
                target = key.column.table.name
                if owned.get(target):
                    where.append(key.parent.in_(owned[target]))
            if where:
                counts[table.name] = conn.scalar(
                    select(func.count()).select_from(table).where(or_(*where))
                )
    return counts


def test_delete_account_removes_every_row_of_the_learner_and_nothing_else(
    api, api_factory, database_url
):
    other = api_factory("bob@example.com")
    other_topic = _fill_account(other)
    _fill_account(api)
    engine = _engine(database_url)
    ada_id, bob_id = api.get("/me").json()["id"], other.get("/me").json()["id"]
    with engine.begin() as conn:  # a pending reset link is the learner's data too
        conn.execute(
            text(
                "INSERT INTO password_reset_tokens (user_id, token_hash, created_at, expires_at)"
                " VALUES (:u, :h, :c, :e)"
            ),
            {
                "u": ada_id,
                "h": "f" * 64,
                "c": utcnow().replace(tzinfo=None),
                "e": (utcnow() + timedelta(hours=1)).replace(tzinfo=None),
            },
        )
    ada, bob = _owned_ids(engine, ada_id), _owned_ids(engine, bob_id)
    before = _rows_of(engine, ada)
    for table in (
        "users",
        "topics",
        "cards",
        "review_logs",
        "generation_jobs",
        "usage_events",
        "usage_counters",
        "source_usage",
        "auth_tokens",
        "password_reset_tokens",
    ):
        assert before[table] > 0, table
    bob_before = _rows_of(engine, bob)

    refused = api.request("DELETE", "/me", json={"password": "not my password"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "wrong_password"
    assert api.request("DELETE", "/me").status_code == 422  # the password must be given
    assert _rows_of(engine, ada) == before

    deleted = api.request("DELETE", "/me", json={"password": PASSWORD})
    assert deleted.status_code == 204, deleted.text
    assert _rows_of(engine, ada) == {name: 0 for name in before}
    assert _rows_of(engine, bob) == bob_before  # nobody else's data was touched
    assert api.get("/me").status_code == 401
    assert _login(api_factory, "ada@example.com", PASSWORD).status_code == 401
    assert other.get(f"/topics/{other_topic['id']}").status_code == 200
    # The address is free again.
    assert (
        api_factory()
        .post("/auth/signup", json={"email": "ada@example.com", "password": PASSWORD})
        .status_code
        == 201
    )
    engine.dispose()


def test_delete_account_waits_for_a_paid_subscription_to_be_cancelled(api, database_url):
    engine = _engine(database_url)
    user_id = api.get("/me").json()["id"]
    with engine.begin() as conn:
        conn.execute(
            update(User).where(User.id == user_id).values(plan="pro", stripe_customer_id="cus_9")
        )
    refused = api.request("DELETE", "/me", json={"password": PASSWORD})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "subscription_active"
    assert "Manage billing" in refused.json()["error"]["message"]
    assert api.get("/me").status_code == 200
    engine.dispose()


# -- export -----------------------------------------------------------------------------------


def test_export_has_the_user_topics_cards_and_reviews_and_only_theirs(api, api_factory):
    other = api_factory("eve@example.com")
    _fill_account(other)
    topic = _fill_account(api)

    response = api.get("/me/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["format"] == "srs-export/1"
    assert data["user"]["email"] == "ada@example.com"
    assert "password_hash" not in data["user"]
    assert "argon2" not in response.text
    assert [t["id"] for t in data["topics"]] == [topic["id"]]
    assert data["topics"][0]["prompt"] == "Capitals of Europe"
    cards = api.get(f"/topics/{topic['id']}/cards").json()["items"]
    assert sorted(c["id"] for c in data["cards"]) == sorted(c["id"] for c in cards)
    assert {c["front"] for c in data["cards"]} >= {"Mine?"}
    assert all(c["user_id"] == data["user"]["id"] for c in data["cards"])
    assert sorted(r["rating"] for r in data["reviews"]) == [3, 4]
    assert any(c["flag_reason"] == "wrong" for c in data["cards"])


def test_a_large_export_streams_every_card(api, database_url):
    topic = api.post("/topics", json={"prompt": "Many cards"}).json()
    user_id = api.get("/me").json()["id"]
    engine = _engine(database_url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            Card.__table__.insert(),
            [
                {
                    "topic_id": topic["id"],
                    "user_id": user_id,
                    "front": f"Question {n} " + "x" * 200,
                    "back": f"Answer {n}",
                    "state": 1,
                    "step": 0,
                    "due": now,
                    "reps": 0,
                    "lapses": 0,
                    "suspended": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(3000)
            ],
        )
    engine.dispose()
    with api.http.stream("GET", "/me/export") as response:
        assert response.status_code == 200
        chunks = [chunk for chunk in response.iter_raw()]
    assert len(chunks) > 1  # sent in pieces, not built whole first
    data = json.loads(b"".join(chunks))
    mine = [c for c in data["cards"] if c["front"].startswith("Question ")]
    assert len(mine) == 3000 and mine[-1]["back"] == "Answer 2999"


def test_account_endpoints_need_a_session(base_url):
    with httpx.Client(base_url=base_url + "/api/v1") as anonymous:
        assert anonymous.get("/me/export").status_code == 401
        assert anonymous.request("DELETE", "/me", json={"password": PASSWORD}).status_code == 401
        assert (
            anonymous.post(
                "/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
            ).status_code
            == 401
        )
