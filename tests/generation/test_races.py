"""Races between processes and threads: one active job per topic, difficulty updates that all
count, and a worker woken from a request thread."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from srs.accounts.models import User
from srs.generation.models import GenerationJob
from srs.generation.service import GenerationService
from srs.generation.worker import Worker
from srs.kit.db import Database, utcnow
from srs.study import service as study
from srs.topics.models import Card, Topic
from tests.conftest import make_settings

THREADS = 8


def _seed(db: Database, cards: int = 0) -> tuple[int, int, list[int]]:
    with db.transaction() as s:
        user = User(email="race@example.com", password_hash="x", plan_anchor=utcnow())
        s.add(user)
        s.flush()
        topic = Topic(user_id=user.id, title="Capitals", prompt="European capitals")
        s.add(topic)
        s.flush()
        job = GenerationJob(topic_id=topic.id, user_id=user.id, requested=cards, status="done")
        s.add(job)
        s.flush()
        rows = [
            Card(topic_id=topic.id, user_id=user.id, job_id=job.id, front=f"Q{i}", back=f"A{i}")
            for i in range(cards)
        ]
        s.add_all(rows)
        s.flush()
        return user.id, topic.id, [c.id for c in rows]


def _all_at_once(work, items) -> list:
    barrier = threading.Barrier(len(items))

    def run(item):
        barrier.wait()
        return work(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))


def test_many_concurrent_requests_queue_exactly_one_job(database_url):
    settings = make_settings(database_url)
    db = Database(database_url)
    generation = GenerationService(db, settings)
    _, topic_id, _ = _seed(db)

    def request(_):
        with db.transaction() as s:
            job = generation.request_batch(s, s.get(Topic, topic_id))
            return job.id if job else None

    try:
        job_ids = _all_at_once(request, range(THREADS))
        with db.transaction(write=False) as s:
            active = s.scalar(
                select(func.count())
                .select_from(GenerationJob)
                .where(GenerationJob.topic_id == topic_id, GenerationJob.status == "queued")
            )
    finally:
        db.dispose()
    assert active == 1
    assert len(set(job_ids)) == 1 and None not in job_ids  # every caller got that one job


def test_concurrent_reviews_in_one_topic_all_count_in_difficulty(database_url):
    """The second answer comes while the first is between its review and its level update
    (the path POST /cards/{id}/review takes): it must wait for the first one's difficulty
    update and add to it, not overwrite it. (On SQLite writers take turns from BEGIN
    IMMEDIATE, so only PostgreSQL can show the race.)"""
    settings = make_settings(database_url)
    db = Database(database_url)
    generation = GenerationService(db, settings)
    user_id, topic_id, (first_card, second_card) = _seed(db, cards=2)
    first_reviewed = threading.Event()
    steer_level = generation.steer_level

    def held_steer_level(topic, card, log) -> None:
        if card.id == first_card:
            first_reviewed.set()
            time.sleep(0.5)  # the other answer reads the topic meanwhile
        steer_level(topic, card, log)

    generation.steer_level = held_steer_level  # type: ignore[method-assign]

    def answer(card_id: int) -> None:
        with db.transaction() as s:
            study.answer(s, s.get(User, user_id), card_id, 3, None, None, generation)

    first = threading.Thread(target=answer, args=(first_card,))
    first.start()
    assert first_reviewed.wait(timeout=10)
    second = threading.Thread(target=answer, args=(second_card,))
    second.start()
    first.join()
    second.join()
    with db.transaction(write=False) as s:
        state = s.get(Topic, topic_id).difficulty_state
    db.dispose()
    assert state["attempts"] == 2


def test_worker_wakes_promptly_when_woken_from_another_thread(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path}/unused.db")
    worker = Worker(None, settings, lambda: None, lambda _: None)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    async def idle_then_wake() -> float | None:
        worker._loop = asyncio.get_running_loop()
        started = time.monotonic()
        idle = asyncio.create_task(worker._idle())
        timer = threading.Timer(0.05, _recording(worker.wake, errors))
        timer.start()
        done, _ = await asyncio.wait({idle}, timeout=2)
        timer.join()
        return time.monotonic() - started if done else None

    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    try:
        waited = loop.run_until_complete(idle_then_wake())
    finally:
        loop.close()  # an idle task stranded by an unsafe wake-up is left behind, not awaited
    assert not errors
    assert waited is not None and waited < 0.5  # the idle wait lasts 1 s unless woken


def _recording(call, errors: list[BaseException]):
    def run() -> None:
        try:
            call()
        except BaseException as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    return run
