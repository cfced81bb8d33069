from __future__ import annotations

from datetime import datetime

import pytest

from srs.accounts.models import User
from srs.generation.models import GenerationJob
from srs.kit.db import Database, utcnow
from srs.metering.models import Reservation, UsageCounter, UsageEvent
from srs.topics.models import Topic
from tests.generation.conftest import llm  # noqa: F401  (the scripted LLM server fixture)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def add_user(db: Database, email: str = "meter@example.com", **fields) -> int:
    with db.transaction() as s:
        user = User(email=email, password_hash="x", plan_anchor=fields.pop("plan_anchor", utcnow()), **fields)
        s.add(user)
        s.flush()
        return user.id


def add_topic_with_job(db: Database, user_id: int, requested: int = 10, title: str = "Capitals") -> tuple[int, int]:
    with db.transaction() as s:
        topic = Topic(user_id=user_id, title=title, prompt=title, generation_status="queued")
        s.add(topic)
        s.flush()
        job = GenerationJob(topic_id=topic.id, user_id=user_id, requested=requested, run_after=utcnow())
        s.add(job)
        s.flush()
        return topic.id, job.id


def counters(db: Database, user_id: int) -> list[UsageCounter]:
    with db.transaction(write=False) as s:
        return list(s.query(UsageCounter).filter_by(user_id=user_id).order_by(UsageCounter.period_start))


def events(db: Database, user_id: int, kind: str | None = None) -> list[UsageEvent]:
    with db.transaction(write=False) as s:
        query = s.query(UsageEvent).filter_by(user_id=user_id)
        if kind:
            query = query.filter_by(kind=kind)
        return list(query.order_by(UsageEvent.id))


def held(db: Database, job_id: int) -> int:
    """What the job's reservation still holds (0 when it has none)."""
    with db.transaction(write=False) as s:
        key = s.get(GenerationJob, job_id).reservation_key
        row = s.query(Reservation).filter_by(key=key).one_or_none() if key else None
        return row.held if row else 0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
