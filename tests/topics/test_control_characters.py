"""Control characters (NUL, Anki's field separator U+001F...) are refused with a clear 422 on
every text a learner sends, on both databases; line breaks and tabs stay allowed."""

from __future__ import annotations

import pytest

BAD = ["nul\x00here", "unit\x1fseparator", "bell\x07", "c1\x85control"]


def _topic(api) -> dict:
    topic = api.post("/topics", json={"prompt": "Control characters"})
    assert topic.status_code == 201
    return topic.json()


@pytest.mark.parametrize("text", BAD)
def test_control_characters_are_refused_everywhere(api, text):
    topic = _topic(api)
    card = api.post(f"/topics/{topic['id']}/cards", json={"front": "ok", "back": "fine"}).json()
    attempts = [
        api.post("/topics", json={"prompt": text}),
        api.patch(f"/topics/{topic['id']}", json={"title": text}),
        api.post(f"/topics/{topic['id']}/cards", json={"front": text, "back": "b"}),
        api.post(f"/topics/{topic['id']}/cards", json={"front": "f", "back": text}),
        api.patch(f"/cards/{card['id']}", json={"front": text}),
        api.post(f"/cards/{card['id']}/flag", json={"reason": text}),
    ]
    for response in attempts:
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid" and "control character" in error["message"]
    assert api.get(f"/cards/{card['id']}").json()["front"] == "ok"  # nothing changed
    assert len(api.get("/topics").json()["items"]) == 1


def test_line_breaks_and_tabs_are_still_text(api):
    topic = _topic(api)
    created = api.post(
        f"/topics/{topic['id']}/cards", json={"front": "two\nlines", "back": "a\ttab\r\nend"}
    )
    assert created.status_code == 201
    assert created.json()["front"] == "two\nlines"
