"""An attempt whose lease ran out saves nothing more, even when its own worker has claimed the
job again: each claim holds the job under a lease of its own."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from srs.generation.models import GenerationJob
from srs.generation.service import GenerationService
from srs.generation.worker import Worker
from srs.kit.db import Database, utcnow
from srs.llm.base import TextDelta, Usage
from srs.topics.models import Card
from tests.conftest import make_settings
from tests.generation.test_dedup_store import CountingEmbedder
from tests.metering.conftest import add_topic_with_job, add_user
from tests.support.cards import capitals, card_xml


class PausingProvider:
    """Each stream sends its first card, then waits for the test before sending the rest."""

    name = "paused"
    model = "paused-model"

    def __init__(self, batches: list[list[tuple[str, str]]]) -> None:
        self.batches = batches
        self.started: list[asyncio.Event] = [asyncio.Event() for _ in batches]
        self.resume: list[asyncio.Event] = [asyncio.Event() for _ in batches]
        self.calls = 0

    async def stream(self, request):
        n = self.calls
        self.calls += 1
        first, *rest = self.batches[n]
        yield TextDelta("<cards>\n" + card_xml(*first))
        self.started[n].set()
        await self.resume[n].wait()
        yield TextDelta("".join(card_xml(*card) for card in rest) + "</cards>\n")
        yield Usage(input_tokens=10, output_tokens=10)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def _fronts(db: Database, topic_id: int) -> list[str]:
    with db.transaction(write=False) as s:
        return list(s.scalars(select(Card.front).where(Card.topic_id == topic_id).order_by(Card.id)))


async def _until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def test_an_expired_attempt_stops_saving_when_its_worker_claims_the_job_again(db, database_url, caplog):
    settings = make_settings(database_url, lease_seconds=60)
    service = GenerationService(db, settings)
    user_id = add_user(db)
    topic_id, job_id = add_topic_with_job(db, user_id, requested=4)
    first_try, second_try = capitals(4), capitals(3, start=10)
    provider = PausingProvider([first_try, second_try])
    worker = Worker(
        service, settings, lambda: provider, lambda _topic: None,
        embedder_factory=CountingEmbedder,
    )

    async def scenario() -> None:
        running = asyncio.create_task(worker.run())
        try:
            await asyncio.wait_for(provider.started[0].wait(), 10)
            await _until(lambda: len(_fronts(db, topic_id)) == 1)
            # The first attempt's lease runs out while its stream is quiet (a stalled machine,
            # say): the ticker's chore puts the job back and the same worker claims it again.
            with db.transaction() as s:
                s.execute(update(GenerationJob).where(GenerationJob.id == job_id)
                          .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
            assert await asyncio.to_thread(service.requeue_expired) == 1
            worker.wake()
            await asyncio.wait_for(provider.started[1].wait(), 10)
            await _until(lambda: len(_fronts(db, topic_id)) == 2)
            provider.resume[0].set()  # the expired attempt's stream goes on
            await asyncio.sleep(0.5)
            provider.resume[1].set()
            await _until(lambda: len(_fronts(db, topic_id)) >= 4)
            await asyncio.sleep(0.5)
        finally:
            await worker.stop()
            running.cancel()

    with caplog.at_level(logging.WARNING, logger="srs.generation.worker"):
        asyncio.run(scenario())
    assert _fronts(db, topic_id) == [first_try[0][0]] + [front for front, _ in second_try]
    assert f"job {job_id}: lease lost" in caplog.text
    with db.transaction(write=False) as s:
        job = s.get(GenerationJob, job_id)
        assert (job.status, job.saved, job.attempts) == ("done", 4, 2)
