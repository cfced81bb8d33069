"""Cloze cards written by hand over the API: one card per deletion number, a text that the
checker refuses is a 422 with nothing saved, and editing the text keeps each card's schedule."""

from __future__ import annotations


def _cards(api, topic_id):
    return api.get(f"/topics/{topic_id}/cards").json()["items"]


def _topic(api, style="cloze"):
    response = api.post("/topics", json={"prompt": "Chemistry", "card_style": style})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_cloze_text_gives_a_card_per_deletion(api):
    topic = _topic(api)
    created = api.post(
        f"/topics/{topic['id']}/cards",
        json={"text": "{{c1::Sodium}} has the symbol {{c2::Na}}"},
    )
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["type"], first["cloze_ordinal"], first["front"]) == (
        "cloze",
        1,
        "[...] has the symbol Na",
    )
    cards = _cards(api, topic["id"])
    assert [(c["cloze_ordinal"], c["front"]) for c in cards] == [
        (1, "[...] has the symbol Na"),
        (2, "Sodium has the symbol [...]"),
    ]
    assert {c["back"] for c in cards} == {"Sodium has the symbol Na"}
    assert {c["text"] for c in cards} == {"{{c1::Sodium}} has the symbol {{c2::Na}}"}
    basic = api.post(f"/topics/{topic['id']}/cards", json={"front": "H2O?", "back": "Water"})
    assert basic.json()["type"] == "basic" and basic.json()["text"] is None


def test_bad_cloze_input_is_a_422_and_saves_nothing(api):
    topic = _topic(api)
    for body in (
        {"text": "no deletion"},
        {"text": "{{c1::unclosed"},
        {"text": "{{c1::only a gap}}"},
        {"text": "{{c1::a {{c2::b}} }} nested"},
        {"text": "x" * 2001},
        {"text": "{{c1::x}} and a\x00 NUL"},
        {"text": "{{c1::Na}} is sodium", "front": "also a front"},
        {"front": "a front without a back"},
        {},
    ):
        response = api.post(f"/topics/{topic['id']}/cards", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"]
    assert _cards(api, topic["id"]) == []
    assert api.post("/topics", json={"prompt": "x", "card_style": "pictures"}).status_code == 422


def test_editing_the_text_rewords_every_card_and_keeps_their_schedules(api):
    topic = _topic(api)
    first = api.post(
        f"/topics/{topic['id']}/cards", json={"text": "{{c1::Iron}} is {{c2::Fe}}"}
    ).json()
    reviewed = api.post(f"/cards/{first['id']}/review", json={"rating": 3}).json()["card"]
    second = _cards(api, topic["id"])[1]

    edited = api.patch(
        f"/cards/{second['id']}",
        json={"text": "{{c1::Iron}} has the symbol {{c2::Fe}} ({{c3::26}})"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["front"] == "Iron has the symbol [...] (26)"
    cards = _cards(api, topic["id"])
    assert [c["cloze_ordinal"] for c in cards] == [1, 2, 3]  # c3 is a new card
    assert cards[0]["front"] == "[...] has the symbol Fe (26)"
    assert cards[0]["reps"] == 1 and cards[0]["due"] == reviewed["due"]
    assert cards[2]["state"] == "new"

    dropped = api.patch(f"/cards/{first['id']}", json={"text": "{{c1::Iron}} is a metal"})
    assert dropped.status_code == 422 and "c2" in dropped.json()["error"]["message"]
    as_basic = api.patch(f"/cards/{first['id']}", json={"front": "new front"})
    assert as_basic.status_code == 422
    basic = api.post(f"/topics/{topic['id']}/cards", json={"front": "Au?", "back": "Gold"}).json()
    assert api.patch(f"/cards/{basic['id']}", json={"text": "{{c1::Au}} x"}).status_code == 422
    assert [c["front"] for c in _cards(api, topic["id"])][:3] == [c["front"] for c in cards]
