"""Over real HTTP: the card comes back exactly when its button said, for every rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.anki import study_history


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_every_button_shows_the_due_date_its_answer_sets(api, settings):
    topic = api.post("/topics", json={"prompt": "Preview honesty"}).json()
    for number in range(24):
        api.post(f"/topics/{topic['id']}/cards", json={"front": f"Q{number}", "back": f"A{number}"})
    study_history(settings.database_url, "ada@example.com", days=200, seed=5, stop_days_ago=90)
    checked = day_level = 0
    for _ in range(24):
        shown = api.get(f"/topics/{topic['id']}/next").json()["card"]
        if shown is None:
            break
        for rating in ("1", "2", "3", "4"):
            before = datetime.now(UTC)
            answered = api.post(f"/cards/{shown['id']}/review", json={"rating": int(rating)})
            after = datetime.now(UTC)
            interval = timedelta(seconds=shown["intervals"][rating])
            due = _parse(answered.json()["card"]["due"])
            assert (
                before + interval - timedelta(seconds=1)
                <= due
                <= after + interval + timedelta(seconds=1)
            )
            checked += 1
            day_level += interval >= timedelta(days=1)
            if rating != "4":
                assert api.post(f"/topics/{topic['id']}/undo").status_code == 200
                again = api.get(f"/topics/{topic['id']}/next").json()["card"]
                assert again["id"] == shown["id"] and again["intervals"] == shown["intervals"]
    assert checked >= 40 and day_level >= 20
