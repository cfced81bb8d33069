"""A learner with enough reviews gets their own FSRS parameters, and they are used."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from srs.accounts.models import User
from srs.kit.db import Database
from srs.kit.settings import Settings
from srs.study import service as study
from srs.study.scheduling import DEFAULT_PARAMETERS
from srs.study.tasks import fit_due_learners
from srs.topics.models import Card, Topic

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc)


def _simulate_reviews(db: Database, cards: int = 60, days: int = 120) -> int:
    """A learner who remembers well: reviews every card when due, answers from a recall model."""
    rng = random.Random(7)
    with db.transaction() as s:
        user = User(email="fit@example.com", password_hash="x", plan_anchor=T0)
        s.add(user)
        s.flush()
        topic = Topic(user_id=user.id, title="t", prompt="t")
        s.add(topic)
        s.flush()
        rows = [Card(topic_id=topic.id, user_id=user.id, front=f"Q{i}", back="A", due=T0) for i in range(cards)]
        s.add_all(rows)
        s.flush()
        user_id, ids = user.id, [c.id for c in rows]
    count = 0
    for day in range(days):
        now = T0 + timedelta(days=day)
        with db.transaction() as s:
            user = s.get(User, user_id)
            for card_id in ids:
                card = s.get(Card, card_id)
                if card.due <= now + timedelta(hours=12):
                    rating = 3 if rng.random() < 0.93 else 1
                    study.review(s, user, card_id, rating, None, now)
                    count += 1
    return count


def test_enough_reviews_fit_parameters_that_the_scheduler_then_uses(database_url):
    db = Database(database_url)
    reviews = _simulate_reviews(db)
    settings = Settings(_env_file=None, database_url=database_url, llm_provider="", fit_min_reviews=reviews)
    assert fit_due_learners(db, Settings(_env_file=None, database_url=database_url, llm_provider="", fit_min_reviews=reviews + 1)) == 0
    assert fit_due_learners(db, settings) == 1
    with db.transaction(write=False) as s:
        user = s.scalars(select(User)).one()
        assert user.fsrs_fitted_reviews == reviews and len(user.fsrs_parameters) == 21
        assert tuple(user.fsrs_parameters) != DEFAULT_PARAMETERS
        assert tuple(study.scheduler_for(user).parameters) == tuple(user.fsrs_parameters)
    assert fit_due_learners(db, settings) == 0  # not refitted until the history grows by a quarter
    db.dispose()


def test_desired_retention_is_a_learner_setting_within_bounds(api):
    assert api.patch("/me", json={"desired_retention": 0.95}).json()["desired_retention"] == 0.95
    for bad in (0.5, 0.99, "high"):
        assert api.patch("/me", json={"desired_retention": bad}).status_code == 422
    assert api.get("/me").json()["desired_retention"] == 0.95


def test_fitting_counts_days_from_the_learners_own_4_am(database_url, monkeypatch):
    """A learner in Los Angeles answering at 02:00 and 06:00 local time answered on two Anki
    days (4 am local is 11:00 or 12:00 UTC), not on one as 04:00 UTC would have it."""
    from srs.study import tasks
    from srs.study.fitting import build_items, elapsed_days

    db = Database(database_url)
    _simulate_reviews(db, cards=2, days=3)
    with db.transaction() as s:
        s.scalars(select(User)).one().timezone = "America/Los_Angeles"
    seen = {}

    def capture(reviews, day_start):
        seen["day_start"] = day_start
        return DEFAULT_PARAMETERS

    monkeypatch.setattr(tasks, "fit_parameters", capture)
    with db.transaction(write=False) as s:
        user_id = s.scalars(select(User.id)).one()
    tasks.fit_learner(db, user_id)
    assert seen["day_start"] in (timedelta(hours=11), timedelta(hours=12))
    evening = datetime(2025, 1, 10, 10, 0, tzinfo=timezone.utc)  # 02:00 in Los Angeles
    morning = datetime(2025, 1, 10, 14, 0, tzinfo=timezone.utc)  # 06:00 in Los Angeles
    assert elapsed_days(evening, morning, seen["day_start"]) == 1
    assert elapsed_days(evening, morning) == 0  # what 04:00 UTC for everyone said
    records = [tasks.ReviewRecord(1, 3, evening), tasks.ReviewRecord(1, 3, morning)]
    assert len(build_items(records, seen["day_start"])) == 1
    db.dispose()
