"""Study settings over real HTTP: time zone (from the served list), retention, and the daily
new-card default that `next` obeys."""

from __future__ import annotations

from zoneinfo import available_timezones


def test_time_zone_list_is_what_the_server_accepts(api):
    zones = api.get("/timezones").json()["zones"]
    assert zones == sorted(available_timezones())
    assert "Europe/Paris" in zones and "UTC" in zones
    for zone in ("Pacific/Chatham", zones[-1]):
        assert api.patch("/me", json={"timezone": zone}).json()["timezone"] == zone


def test_patch_me_changes_zone_retention_and_new_cards(api, settings):
    me = api.get("/me").json()
    assert me["new_cards_per_day"] == settings.new_cards_per_day  # the server's default
    changed = api.patch(
        "/me", json={"time_zone": "Asia/Tokyo", "desired_retention": 0.95, "new_cards_per_day": 7}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["timezone"], body["desired_retention"], body["new_cards_per_day"]) == (
        "Asia/Tokyo",
        0.95,
        7,
    )
    assert api.get("/me").json() == body
    # null goes back to the server's default; fields left out are kept.
    reset = api.patch("/me", json={"new_cards_per_day": None}).json()
    assert reset["new_cards_per_day"] == settings.new_cards_per_day
    assert reset["timezone"] == "Asia/Tokyo" and reset["desired_retention"] == 0.95


def test_bad_settings_are_refused_and_nothing_changes(api):
    before = api.get("/me").json()
    for body in (
        {"timezone": "Mars/Olympus_Mons"},
        {"time_zone": "../../etc/passwd"},
        {"desired_retention": 0.5},
        {"desired_retention": 0.99},
        {"new_cards_per_day": -1},
        {"new_cards_per_day": 100_000},
        {"new_cards_per_day": "many"},
        {"plan": "pro"},
        {"email": "someone@else.com"},
    ):
        response = api.patch("/me", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid"
    assert api.get("/me").json() == before


def test_next_uses_the_learners_own_new_card_default(api):
    topic = api.post("/topics", json={"prompt": "Capitals"}).json()
    for n in range(4):
        api.post(f"/topics/{topic['id']}/cards", json={"front": f"Q{n}", "back": f"A{n}"})
    api.patch("/me", json={"new_cards_per_day": 2})
    assert api.get(f"/topics/{topic['id']}").json()["new_per_day"] == 2
    for _ in range(2):
        shown = api.get(f"/topics/{topic['id']}/next").json()
        assert shown["card"] is not None
        api.post(f"/cards/{shown['card']['id']}/review", json={"rating": 4})
    done = api.get(f"/topics/{topic['id']}/next").json()
    assert done["card"] is None and done["new_limit_reached"] is True
    assert done["counts"]["ready"] == 2

    api.patch("/me", json={"new_cards_per_day": 3})
    assert api.get(f"/topics/{topic['id']}/next").json()["card"] is not None
    # A topic's own number still wins over the learner's default.
    api.patch(f"/topics/{topic['id']}", json={"new_per_day": 2})
    assert api.get(f"/topics/{topic['id']}/next").json()["card"] is None


def test_settings_need_a_session(base_url):
    import httpx

    with httpx.Client(base_url=base_url + "/api/v1") as anonymous:
        assert anonymous.patch("/me", json={"new_cards_per_day": 3}).status_code == 401
        assert anonymous.get("/timezones").status_code == 200  # the list is public
