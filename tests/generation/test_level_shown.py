"""The level the learner sees ("4/10") is the level the next batch is generated at, also at
the halves where round-half-to-even and round-half-up disagree."""

from __future__ import annotations

from sqlalchemy import update

from srs.generation.service import level_of
from srs.kit.db import Database
from srs.topics.models import Topic


def test_level_shown_is_the_level_generated_at(api, settings):
    topic = api.post("/topics", json={"prompt": "Levels"}).json()
    db = Database(settings.database_url)
    try:
        for estimate in (2.5, 3.5, 4.5, 6.49, 9.5):
            with db.transaction() as session:
                session.execute(
                    update(Topic)
                    .where(Topic.id == topic["id"])
                    .values(level=estimate, difficulty_state=None)
                )
            with db.transaction(write=False) as session:
                generated_at = level_of(session.get(Topic, topic["id"]))
            shown = api.get(f"/topics/{topic['id']}").json()["level"]
            assert shown == generated_at == int(estimate + 0.5), estimate
    finally:
        db.dispose()
