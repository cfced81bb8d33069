"""A worker killed mid-batch: its reservation survives the retry, every delivered card is
billed exactly once, and what the batch did not use goes back to the quota."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from srs.generation.models import GenerationJob
from srs.metering.models import UsageEvent
from srs.topics.models import Card
from tests.generation.conftest import wait_for
from tests.generation.test_worker_processes import _count, _start_worker, _worker_env
from tests.metering.conftest import add_topic_with_job, add_user, counters, held
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply

pytestmark = pytest.mark.slow


def _job(db, job_id):
    with db.transaction(write=False) as s:
        return s.get(GenerationJob, job_id)


def test_kill_9_mid_batch_bills_each_card_once_and_releases_the_rest(db, database_url, llm, tmp_path):
    user_id = add_user(db)
    topic_id, job_id = add_topic_with_job(db, user_id, requested=10)
    llm.default = Reply(text=batch_xml(capitals(10)), tokens_per_second=40, chunk_chars=5)
    env = _worker_env(database_url, llm.base_url)
    first = _start_worker(env, tmp_path)
    try:
        wait_for(lambda: _count(db, topic_id) >= 3, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        kept = _count(db, topic_id)
        [counter] = counters(db, user_id)
        assert counter.cards_reserved + counter.cards_used == 10  # the whole batch was held
        assert counter.cards_used == kept
        # The retry delivers only two more cards and ends the batch.
        llm.default = Reply(text=batch_xml(capitals(2, start=kept)))
        second = _start_worker(env, tmp_path)
        try:
            wait_for(lambda: _job(db, job_id).status == "done", timeout=30)
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    job = _job(db, job_id)
    assert job.attempts == 2 and job.saved == kept + 2 and held(db, job_id) == 0
    [counter] = counters(db, user_id)
    # Reserved 10 = used (kept + 2) + released (8 - kept); nothing is held any more.
    assert counter.cards_used == kept + 2 and counter.cards_reserved == 0
    assert f"exactly {10 - kept} new cards" in llm.requests[-1].json["messages"][1]["content"]
    with db.transaction(write=False) as s:
        cards = list(s.scalars(select(Card).where(Card.topic_id == topic_id).order_by(Card.ordinal)))
        billed = list(s.scalars(select(UsageEvent).where(UsageEvent.kind == "card")))
    assert sorted(e.card_id for e in billed) == sorted(c.id for c in cards)
    key = job.reservation_key
    assert sorted(e.idempotency_key for e in billed) == sorted(f"card:{key}:{c.ordinal}" for c in cards)
