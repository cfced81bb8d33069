"""The unseen count is kept by triggers (migration 0011), not recounted: after every kind of
write to a card it must equal a fresh count of the deck, and the learner's `ready` with it."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from srs.kit.db import utcnow
from srs.topics.models import Card, TopicCardCount


def _kept_and_fresh(app, topic_id: int) -> tuple[int, int, int]:
    """(kept count, fresh count of unseen unsuspended cards, of them buried now)."""
    unseen = (Card.topic_id == topic_id, Card.last_review.is_(None), Card.suspended.is_(False))
    with app.state.db.transaction(write=False) as session:
        kept = session.scalar(
            select(TopicCardCount.unseen).where(TopicCardCount.topic_id == topic_id)
        )
        fresh = session.scalar(select(func.count()).select_from(Card).where(*unseen))
        buried = session.scalar(
            select(func.count())
            .select_from(Card)
            .where(*unseen, Card.buried_until.is_not(None), Card.buried_until > utcnow())
        )
    return kept or 0, fresh, buried


def _check(api, app, topic_id: int, ready: int) -> None:
    kept, fresh, buried = _kept_and_fresh(app, topic_id)
    assert kept == fresh, f"kept {kept}, recounted {fresh}"
    shown = api.get(f"/topics/{topic_id}").json()["counts"]["ready"]
    assert shown == fresh - buried == ready
    assert api.get(f"/topics/{topic_id}/next").json()["counts"]["ready"] == ready


def _add(api, topic_id: int, n: int, start: int = 0) -> list[int]:
    return [
        api.post(f"/topics/{topic_id}/cards", json={"front": f"Q{i}", "back": f"A{i}"}).json()["id"]
        for i in range(start, start + n)
    ]


def test_counts_stay_exact_through_every_kind_of_write(api, app):
    topic = api.post("/topics", json={"prompt": "Counted"}).json()["id"]
    other = api.post("/topics", json={"prompt": "Beside it"}).json()["id"]
    _add(api, other, 2, start=100)
    cards = _add(api, topic, 6)
    _check(api, app, topic, 6)

    assert api.post(f"/cards/{cards[0]}/review", json={"rating": 3}).status_code == 200
    _check(api, app, topic, 5)
    assert api.post(f"/cards/{cards[0]}/review", json={"rating": 1}).status_code == 200
    _check(api, app, topic, 5)  # a second answer changes nothing
    api.post(f"/topics/{topic}/undo")
    api.post(f"/topics/{topic}/undo")  # the first answer taken back: unseen again
    _check(api, app, topic, 6)

    api.post(f"/cards/{cards[1]}/suspend")
    _check(api, app, topic, 5)
    api.post(f"/cards/{cards[1]}/unsuspend")
    _check(api, app, topic, 6)

    api.post(f"/cards/{cards[2]}/bury")
    _check(api, app, topic, 5)  # kept 6: burial lasts a day, so it is read, not kept

    api.post(f"/cards/{cards[3]}/flag", json={"reason": "wrong"})
    _check(api, app, topic, 4)

    assert api.delete(f"/cards/{cards[4]}").status_code == 204
    _check(api, app, topic, 3)

    more = _add(api, topic, 3, start=10)
    _check(api, app, topic, 6)
    bulk = api.post("/cards/bulk", json={"ids": more[:2] + [cards[5]], "action": "suspend"})
    assert bulk.status_code == 200
    _check(api, app, topic, 3)
    api.post("/cards/bulk", json={"ids": [more[0]], "action": "unsuspend"})
    _check(api, app, topic, 4)
    api.post("/cards/bulk", json={"ids": [more[0], more[2]], "action": "delete"})
    _check(api, app, topic, 2)

    # An import writes its cards in bulk, past the ORM.
    upload = api.post(
        "/imports",
        files={"file": ("more.tsv", b"Capital of France?\tParis\nCapital of Spain?\tMadrid\n")},
        data={"topic_id": str(topic)},
    )
    assert upload.status_code == 202, upload.text
    job = upload.json()
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = api.get(f"/imports/{job['id']}").json()
    assert job["status"] == "done", job
    _check(api, app, topic, 4)

    _check(api, app, other, 2)  # the other topic's count never moved
    assert api.delete(f"/topics/{topic}").status_code == 204
    assert _kept_and_fresh(app, topic) == (0, 0, 0)
    _check(api, app, other, 2)
