"""Reservations at the edges of a job's life, and topics stopped by the quota coming back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from srs.accounts.models import User
from srs.generation import repository
from srs.generation.models import GenerationJob
from srs.generation.service import MAX_ATTEMPTS, GenerationService, Outcome
from srs.kit.db import utcnow
from srs.metering import service as metering
from srs.topics.models import Topic
from tests.conftest import make_settings
from tests.metering.conftest import add_topic_with_job, add_user, counters, held


def _service(db, database_url, **overrides) -> GenerationService:
    return GenerationService(db, make_settings(database_url, **overrides))


def _claim(db, owner: str = "w1") -> int | None:
    with db.transaction() as s:
        return repository.claim_next(s, owner, utcnow(), timedelta(seconds=5))


def test_a_job_given_up_after_dead_workers_releases_its_reservation(db, database_url):
    service = _service(db, database_url)
    user_id = add_user(db)
    _, job_id = add_topic_with_job(db, user_id, requested=10)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert _claim(db) == job_id
        assert service.start_job(job_id, "w1").count == 10
        assert counters(db, user_id)[0].cards_reserved == 10  # kept across retries, not added
        with db.transaction() as s:  # the worker dies: its lease runs out
            s.execute(update(GenerationJob).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        service.requeue_expired()
        with db.transaction() as s:
            s.execute(update(GenerationJob).values(run_after=utcnow()))
    with db.transaction(write=False) as s:
        job = s.get(GenerationJob, job_id)
        assert job.status == "failed" and held(db, job_id) == 0
    [counter] = counters(db, user_id)
    assert (counter.cards_used, counter.cards_reserved) == (0, 0)
    with db.transaction() as s:  # releasing again gives nothing back twice
        assert metering.release(s, job.reservation_key) == 0


def test_topics_stopped_by_the_quota_refill_after_an_upgrade(db, database_url):
    service = _service(db, database_url, plan_free_cards=0)
    user_id = add_user(db)
    topic_id, job_id = add_topic_with_job(db, user_id)
    assert _claim(db) == job_id
    assert service.start_job(job_id, "w1") is None  # nothing left: no LLM call
    with db.transaction() as s:
        topic = s.get(Topic, topic_id)
        assert topic.generation_status == "quota_exceeded"
        assert s.get(GenerationJob, job_id).status == "quota_exceeded"
        topic.last_studied_at = utcnow()
    service.refill_active_topics()
    with db.transaction(write=False) as s:
        assert s.get(Topic, topic_id).generation_status == "quota_exceeded"  # still nothing left
    with db.transaction() as s:
        metering.set_plan(s, service.settings, s.get(User, user_id), "pro", utcnow())
    assert service.refill_active_topics() == 1
    with db.transaction(write=False) as s:
        assert s.get(Topic, topic_id).generation_status == "queued"
        assert repository.active_job(s, topic_id) is not None


def test_a_new_period_reopens_a_topic_stopped_by_the_quota(db, database_url):
    service = _service(db, database_url, plan_free_cards=5)
    user_id = add_user(db, plan_anchor=utcnow() - timedelta(days=20))
    topic_id, job_id = add_topic_with_job(db, user_id)
    assert _claim(db) == job_id
    plan = service.start_job(job_id, "w1")
    assert plan.count == 5  # the batch of 10 shrank to what the quota allows
    service.finish_job(job_id, "w1", Outcome("done"))
    with db.transaction() as s:
        s.get(Topic, topic_id).generation_status = "quota_exceeded"
        s.get(User, user_id).plan_anchor = utcnow() - timedelta(days=40)  # the period rolled over
    service.refill_active_topics()
    with db.transaction(write=False) as s:
        assert s.get(Topic, topic_id).generation_status != "quota_exceeded"
