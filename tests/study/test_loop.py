"""The study loop at the service layer, with explicit clocks: FSRS steps, ordering, limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from srs.accounts.models import User
from srs.kit.db import Database
from srs.study import service as study
from srs.topics.models import Card, Topic

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def _seed(db: Database, cards: int, tz: str = "UTC", new_per_day: int | None = None) -> tuple[int, int, list[int]]:
    with db.transaction() as s:
        user = User(email=f"u{tz}@example.com", password_hash="x", timezone=tz, plan_anchor=T0)
        s.add(user)
        s.flush()
        topic = Topic(user_id=user.id, title="t", prompt="t", new_per_day=new_per_day)
        s.add(topic)
        s.flush()
        rows = [Card(topic_id=topic.id, user_id=user.id, front=f"Q{i}", back=f"A{i}", due=T0, created_at=T0) for i in range(cards)]
        s.add_all(rows)
        s.flush()
        return user.id, topic.id, [c.id for c in rows]


def _answer(db, user_id, card_id, rating, now):
    with db.transaction() as s:
        card, _ = study.review(s, s.get(User, user_id), card_id, rating, None, now)
        return card.state, card.due, card.step


def _next(db, user_id, topic_id, now, limit=20):
    with db.transaction(write=False) as s:
        found = study.next_card(s, s.get(User, user_id), s.get(Topic, topic_id), now, limit)
        return (found.card.id if found.card else None), found.counts


def test_good_walks_the_learning_steps_into_review(db):
    user_id, topic_id, (card_id,) = _seed(db, 1)
    state, due, step = _answer(db, user_id, card_id, 3, T0)
    assert (state, step, due) == (1, 1, T0 + timedelta(minutes=10))
    state, due, step = _answer(db, user_id, card_id, 3, T0 + timedelta(minutes=10))
    assert state == 2  # graduated
    assert due - (T0 + timedelta(minutes=10)) >= timedelta(days=1)


def test_again_on_a_review_card_relearns_within_minutes(db):
    user_id, topic_id, (card_id,) = _seed(db, 1)
    _answer(db, user_id, card_id, 4, T0)  # Easy graduates at once
    later = T0 + timedelta(days=30)
    state, due, _ = _answer(db, user_id, card_id, 1, later)
    assert state == 3 and due - later == timedelta(minutes=10)
    with db.transaction(write=False) as s:
        assert s.get(Card, card_id).lapses == 1


def test_undo_restores_every_scheduling_field_exactly(db):
    user_id, topic_id, (card_id,) = _seed(db, 1)
    _answer(db, user_id, card_id, 3, T0)
    with db.transaction(write=False) as s:
        c = s.get(Card, card_id)
        before = (c.state, c.step, c.stability, c.difficulty, c.due, c.last_review, c.reps, c.lapses)
    _answer(db, user_id, card_id, 1, T0 + timedelta(minutes=11))
    with db.transaction() as s:
        study.undo_last(s, s.get(User, user_id), topic_id)
    with db.transaction(write=False) as s:
        c = s.get(Card, card_id)
        assert (c.state, c.step, c.stability, c.difficulty, c.due, c.last_review, c.reps, c.lapses) == before


def test_due_cards_come_before_new_most_overdue_first(db):
    user_id, topic_id, ids = _seed(db, 4)
    _answer(db, user_id, ids[2], 1, T0)  # due T0+1m
    _answer(db, user_id, ids[3], 3, T0 + timedelta(minutes=1))  # due T0+11m
    _answer(db, user_id, ids[1], 1, T0 + timedelta(minutes=2))  # due T0+3m
    now = T0 + timedelta(minutes=30)
    order = []
    for _ in range(3):
        card_id, _ = _next(db, user_id, topic_id, now)
        order.append(card_id)
        _answer(db, user_id, card_id, 4, now)
    assert order == [ids[2], ids[1], ids[3]]
    card_id, counts = _next(db, user_id, topic_id, now)
    assert card_id == ids[0] and counts.new == 1


def test_daily_new_card_limit(db):
    user_id, topic_id, ids = _seed(db, 5)
    for _ in range(3):
        card_id, _ = _next(db, user_id, topic_id, T0, limit=3)
        _answer(db, user_id, card_id, 4, T0)
    card_id, counts = _next(db, user_id, topic_id, T0 + timedelta(minutes=1), limit=3)
    assert card_id is None and counts.new == 0 and counts.ready == 2
    card_id, counts = _next(db, user_id, topic_id, T0 + timedelta(days=1), limit=3)
    assert card_id is not None and counts.new == 2


def test_the_day_follows_the_learners_time_zone(db):
    # 23:30 in Tokyo is 14:30 UTC; the new day starts at 15:00 UTC there.
    user_id, topic_id, ids = _seed(db, 3, tz="Asia/Tokyo", new_per_day=1)
    evening = datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc)
    card_id, _ = _next(db, user_id, topic_id, evening)
    _answer(db, user_id, card_id, 4, evening)
    assert _next(db, user_id, topic_id, evening + timedelta(minutes=29))[0] is None
    assert _next(db, user_id, topic_id, evening + timedelta(minutes=31))[0] is not None


def test_bury_lasts_until_the_learners_midnight(db):
    user_id, topic_id, (card_id,) = _seed(db, 1, tz="America/New_York")
    now = datetime(2026, 7, 1, 20, 0, tzinfo=timezone.utc)  # 16:00 in New York (EDT)
    with db.transaction() as s:
        card = study.bury(s, s.get(User, user_id), card_id, now)
        assert card.buried_until == datetime(2026, 7, 2, 4, 0, tzinfo=timezone.utc)
    assert _next(db, user_id, topic_id, now)[0] is None
    assert _next(db, user_id, topic_id, datetime(2026, 7, 2, 4, 1, tzinfo=timezone.utc))[0] == card_id
