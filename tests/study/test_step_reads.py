"""A study step reads each thing once: what it hands on must be what a separate read finds."""

from __future__ import annotations

from srs.accounts import repository as accounts
from srs.kit.db import Database
from srs.study import service as study


class _Recorder:
    """The after-review hook, keeping what the answer handed to the buffer check."""

    def __init__(self) -> None:
        self.recent: list = []

    def steer_level(self, topic, card, log) -> None:
        pass

    def ensure_buffer(self, session, topic, recent_answers=None):
        self.recent.append(list(recent_answers or []))


def test_the_pace_read_with_the_card_is_the_topics_latest_answers(api, database_url):
    topic = api.post("/topics", json={"prompt": "Chemistry"}).json()
    cards = [
        api.post(f"/topics/{topic['id']}/cards", json={"front": f"Q{i}", "back": "A"}).json()["id"]
        for i in range(study.RECENT_ANSWERS + 3)
    ]
    user_id = api.get("/me").json()["id"]
    hook = _Recorder()
    db = Database(database_url)
    try:
        for card_id in cards:
            with db.transaction() as session:
                user = accounts.get_user(session, user_id)
                study.answer(session, user, card_id, 3, None, f"r-{card_id}", hook)
            with db.transaction(write=False) as session:
                stored = study.recent_review_times(session, topic["id"])
            # Newest first, this answer included, at most RECENT_ANSWERS: as read after it.
            assert hook.recent[-1] == stored
        assert len(hook.recent[-1]) == study.RECENT_ANSWERS
        assert [len(r) for r in hook.recent[:3]] == [1, 2, 3]
    finally:
        db.dispose()
