"""Statistics over real HTTP: the numbers match the answers given, on the learner's own days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from srs.study.models import ReviewLog
from srs.topics.models import Card

# UTC+14 and UTC-11: their dates differ from each other (and usually from UTC's) all day long.
EAST, WEST = "Pacific/Kiritimati", "Pacific/Pago_Pago"


def _learner(api_factory, email: str, zone: str):
    client = api_factory()
    client.signup(email, timezone=zone)
    return client


def _cards(api, prompt: str, count: int) -> tuple[dict, list[int]]:
    topic = api.post("/topics", json={"prompt": prompt}).json()
    ids = [
        api.post(
            f"/topics/{topic['id']}/cards", json={"front": f"{prompt} {i}?", "back": "x"}
        ).json()["id"]
        for i in range(count)
    ]
    return topic, ids


def _rate(api, card_id: int, rating: int) -> dict:
    response = api.post(f"/cards/{card_id}/review", json={"rating": rating})
    assert response.status_code == 200, response.text
    return response.json()["card"]


def _local(when: str | datetime, zone: str):
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    return moment.astimezone(ZoneInfo(zone)).date()


def _day(stats: dict, date) -> dict:
    return next(d for d in stats["days"] if d["date"] == date.isoformat())


def test_reviews_success_and_retention_of_today(api_factory):
    learner = _learner(api_factory, "kiri@example.com", EAST)
    _, ids = _cards(learner, "Numbers", 5)
    _rate(learner, ids[0], 3)  # first attempts: Good, Hard, Again -> 1 + 0.5 + 0 of 3
    _rate(learner, ids[1], 2)
    _rate(learner, ids[2], 1)
    _rate(learner, ids[3], 4)  # Easy: straight into the review state
    _rate(learner, ids[4], 4)
    _rate(learner, ids[3], 3)  # later answers on review cards: one passed, one forgotten
    _rate(learner, ids[4], 1)
    _rate(learner, ids[2], 3)  # a learning card again: neither a first attempt nor retention

    stats = learner.get("/stats").json()
    today = datetime.now(ZoneInfo(EAST)).date()
    assert stats["timezone"] == EAST and stats["today"] == today.isoformat()
    assert len(stats["days"]) == 30 and stats["days"][-1]["date"] == today.isoformat()
    assert _day(stats, today) == {
        "date": today.isoformat(),
        "reviews": 8,
        "first_attempts": 5,
        "first_attempt_success": 0.7,  # (1 + 0.5 + 0 + 1 + 1) / 5
        "retention_reviews": 2,
        "retention": 0.5,
    }
    assert all(d["reviews"] == 0 and d["retention"] is None for d in stats["days"][:-1])
    assert stats["totals"]["reviews"] == 8 and stats["totals"]["first_attempt_success"] == 0.7


def test_days_follow_the_learners_time_zone(api_factory, app):
    east = _learner(api_factory, "east@example.com", EAST)
    west = _learner(api_factory, "west@example.com", WEST)
    for learner in (east, west):
        _, ids = _cards(learner, "Zones", 2)
        _rate(learner, ids[0], 3)
        _rate(learner, ids[1], 3)
    east_stats, west_stats = east.get("/stats?days=3").json(), west.get("/stats?days=3").json()
    assert east_stats["today"] != west_stats["today"]  # 25 hours apart: never the same date
    assert [d["reviews"] for d in east_stats["days"]] == [0, 0, 2]
    assert [d["reviews"] for d in west_stats["days"]] == [0, 0, 2]

    # An answer given 24 hours ago lands on yesterday's bar.
    with app.state.db.transaction() as session:
        user_id = east.get("/me").json()["id"]
        log_id = session.scalar(select(func.min(ReviewLog.id)).where(ReviewLog.user_id == user_id))
        session.execute(
            update(ReviewLog)
            .where(ReviewLog.id == log_id)
            .values(reviewed_at=datetime.now(UTC) - timedelta(hours=24))
        )
    assert [d["reviews"] for d in east.get("/stats?days=3").json()["days"]] == [0, 1, 1]


def test_forecast_counts_due_cards_on_their_local_day(api_factory, app):
    learner = _learner(api_factory, "west2@example.com", WEST)
    _, ids = _cards(learner, "Forecast", 5)
    easy = _rate(learner, ids[0], 4)  # review card due in some days
    good = _rate(learner, ids[1], 3)  # learning card due in ten minutes
    _rate(learner, ids[2], 3)  # made overdue below: counted today
    _rate(learner, ids[3], 3)  # suspended below: not counted
    # ids[4] is never studied: new cards are not in the forecast
    with app.state.db.transaction() as session:
        session.execute(
            update(Card).where(Card.id == ids[2]).values(due=datetime.now(UTC) - timedelta(days=3))
        )
    assert learner.post(f"/cards/{ids[3]}/suspend").status_code == 200

    stats = learner.get("/stats").json()
    today = datetime.now(ZoneInfo(WEST)).date()
    forecast = {f["date"]: f["due"] for f in stats["forecast"]}
    assert len(stats["forecast"]) == 30 and stats["forecast"][0]["date"] == today.isoformat()
    expected: dict[str, int] = {}
    for card in (easy, good):
        day = max(today, _local(card["due"], WEST)).isoformat()
        expected[day] = expected.get(day, 0) + 1
    expected[today.isoformat()] = expected.get(today.isoformat(), 0) + 1  # the overdue card
    assert {d: n for d, n in forecast.items() if n} == expected
    assert _local(easy["due"], WEST) > today  # the Easy card really is days away


def test_stats_of_one_topic(api_factory):
    learner = _learner(api_factory, "topics@example.com", "UTC")
    first, first_ids = _cards(learner, "First", 2)
    second, second_ids = _cards(learner, "Second", 1)
    _rate(learner, first_ids[0], 3)
    _rate(learner, first_ids[1], 1)
    _rate(learner, second_ids[0], 4)

    everything = learner.get("/stats").json()
    only_first = learner.get(f"/stats?topic_id={first['id']}").json()
    only_second = learner.get("/stats", params={"topic_id": second["id"]}).json()
    assert everything["totals"]["reviews"] == 3
    assert only_first["topic_id"] == first["id"]
    assert only_first["totals"]["reviews"] == 2
    assert only_first["totals"]["first_attempt_success"] == 0.5
    assert only_second["totals"]["reviews"] == 1
    assert sum(f["due"] for f in only_second["forecast"]) == 1


@pytest.mark.parametrize(
    "query", ["days=0", "days=366", "days=abc", "topic_id=x", "topic_id=0", f"topic_id={10**30}"]
)
def test_bad_parameters_are_422(api, query):
    response = api.get(f"/stats?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


def test_someone_elses_topic_is_not_found(api, api_factory):
    topic = api.post("/topics", json={"prompt": "Private"}).json()
    stranger = api_factory("mallory@example.com")
    response = stranger.get(f"/stats?topic_id={topic['id']}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    fresh = stranger.get("/stats?days=7").json()
    assert len(fresh["days"]) == 7 and fresh["totals"]["reviews"] == 0
    assert fresh["totals"]["first_attempt_success"] is None
    assert all(f["due"] == 0 for f in fresh["forecast"])
