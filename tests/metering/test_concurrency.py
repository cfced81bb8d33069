"""Fifty batches for one account race for the last cards of its quota: the limit holds, the
ledger and the counters agree, and no event is written twice."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from srs.generation.models import GenerationJob
from srs.generation.service import GenerationService, Outcome
from srs.generation.xml_stream import ParsedCard
from srs.kit import metrics
from srs.kit.db import utcnow
from srs.metering.models import Reservation, UsageEvent
from srs.topics.models import Card, Topic
from tests.conftest import make_settings
from tests.metering.conftest import add_topic_with_job, add_user, counters, events

pytestmark = pytest.mark.slow

LIMIT = 25
BATCHES = 50


def _claim(service: GenerationService, owner: str) -> int | None:
    """A worker's claim of the oldest queued job, without the one-running-job-per-learner
    turn of `repository.claim_next`: the race here is one account's quota hit by many batches
    at once, which metering must hold by itself, however the jobs came to run together."""
    with service.db.transaction() as s:
        now = utcnow()
        oldest = (
            select(GenerationJob.id)
            .where(GenerationJob.status == "queued")
            .order_by(GenerationJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        return s.execute(
            update(GenerationJob)
            .where(GenerationJob.id == oldest)
            .values(status="running", lease_owner=owner, lease_expires_at=now + timedelta(minutes=5),
                    attempts=GenerationJob.attempts + 1, started_at=now)
            .returning(GenerationJob.id)
        ).scalar()


def _run(service: GenerationService, owner: str, job_id: int) -> int:
    plan = service.start_job(job_id, owner)
    if plan is None:
        return 0
    for n in range(plan.count):
        card = ParsedCard(front=f"Question {job_id}.{n}?", back="Answer")
        assert service.save_card(plan, owner, card, "model") is not None
    outcome = Outcome(kind="done", tokens_in=100, tokens_out=40, model="model")
    service.finish_job(job_id, owner, outcome)
    return plan.count


def test_fifty_concurrent_batches_never_pass_the_limit(db, database_url):
    settings = make_settings(database_url, plan_free_cards=LIMIT, plan_free_topics=BATCHES)
    service = GenerationService(db, settings)
    user_id = add_user(db)
    for i in range(BATCHES):
        add_topic_with_job(db, user_id, requested=10, title=f"Topic {i}")
    refusals_before = metrics.QUOTA_REFUSALS._value.get()
    owners = [f"worker-{i}" for i in range(BATCHES)]
    claimed = [_claim(service, owner) for owner in owners]
    assert None not in claimed

    start = threading.Barrier(BATCHES)

    def race(owner: str, job_id: int) -> int:
        start.wait()
        return _run(service, owner, job_id)

    with ThreadPoolExecutor(BATCHES) as pool:
        written = sum(pool.map(race, owners, claimed))
    # Finishing a batch may queue another (the buffer refill): drain them too.
    while (job_id := _claim(service, "drain")) is not None:
        written += _run(service, "drain", job_id)

    [counter] = counters(db, user_id)
    assert written == counter.cards_used == LIMIT
    assert counter.cards_reserved == 0
    card_events = events(db, user_id, "card")
    assert sum(e.quantity for e in card_events) == counter.cards_used
    token_events = events(db, user_id, "tokens")
    assert sum(e.tokens_in for e in token_events) == counter.tokens_in
    keys = Tally(e.idempotency_key for e in events(db, user_id))
    assert all(n == 1 for n in keys.values())
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Card)) == LIMIT
        billed = set(s.scalars(select(UsageEvent.card_id).where(UsageEvent.kind == "card")))
        assert billed == set(s.scalars(select(Card.id)))
        assert s.scalar(select(func.sum(Reservation.held))) == 0
        refused = s.scalar(
            select(func.count()).select_from(Topic).where(Topic.generation_status == "quota_exceeded")
        )
        assert refused >= BATCHES - 3
        error = s.scalar(select(Topic.generation_error).where(Topic.generation_status == "quota_exceeded").limit(1))
    assert "Free" in error and str(LIMIT) in error and "resets" in error
    assert metrics.QUOTA_REFUSALS._value.get() > refusals_before
