"""Workers as separate processes: kill -9 mid-stream loses nothing; claims never collide."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from srs.accounts.models import User
from srs.generation import repository
from srs.generation.models import GenerationJob
from srs.kit.db import Database, utcnow
from srs.topics.models import Card, Topic
from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply

pytestmark = pytest.mark.slow


def _worker_env(database_url: str, llm_base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRS_")}
    env.update(
        SRS_DATABASE_URL=database_url,
        SRS_LLM_PROVIDER="openai",
        SRS_LLM_BASE_URL=llm_base_url,
        SRS_LLM_API_KEY="test-key",
        SRS_LLM_MODEL="scripted-model",
        SRS_LEASE_SECONDS="2",
        SRS_TICK_SECONDS="0.5",
        SRS_LLM_RETRY_DELAY="0.05",
    )
    return env


def _start_worker(env, tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "srs.cli", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _seed_topic_with_job(db: Database) -> tuple[int, int]:
    with db.transaction() as s:
        user = User(email="kill@example.com", password_hash="x", plan_anchor=utcnow())
        s.add(user)
        s.flush()
        topic = Topic(user_id=user.id, title="Capitals", prompt="European capitals", generation_status="queued")
        s.add(topic)
        s.flush()
        job = GenerationJob(topic_id=topic.id, user_id=user.id, requested=10, run_after=utcnow())
        s.add(job)
        s.flush()
        return topic.id, job.id


def _count(db: Database, topic_id: int) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(Card).where(Card.topic_id == topic_id))


def _job_status(db: Database, job_id: int) -> str:
    # A fresh transaction each time: an open one would keep reading its first snapshot.
    with db.transaction(write=False) as s:
        return s.get(GenerationJob, job_id).status


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(database_url, llm, tmp_path):
    db = Database(database_url)
    topic_id, job_id = _seed_topic_with_job(db)
    llm.default = Reply(text=batch_xml(capitals(10)), tokens_per_second=40, chunk_chars=5)
    env = _worker_env(database_url, llm.base_url)
    first = _start_worker(env, tmp_path)
    try:
        wait_for(lambda: _count(db, topic_id) >= 3, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        kept = _count(db, topic_id)
        assert 3 <= kept < 10
        llm.default = Reply(text=batch_xml(capitals(10 - kept, start=kept)))
        second = _start_worker(env, tmp_path)
        try:
            wait_for(lambda: _count(db, topic_id) == 10, timeout=30)
            wait_for(lambda: _job_status(db, job_id) == "done", timeout=10)
        finally:
            second.terminate()
            second.wait(timeout=10)
        with db.transaction(write=False) as s:
            cards = list(s.scalars(select(Card).where(Card.topic_id == topic_id).order_by(Card.ordinal)))
            job = s.get(GenerationJob, job_id)
            assert [c.front for c in cards] == [f for f, _ in capitals(10)]
            assert [c.ordinal for c in cards] == list(range(10))
            assert job.saved == 10 and job.attempts == 2
        assert f"exactly {10 - kept} new cards" in llm.requests[-1].json["messages"][1]["content"]
    finally:
        if first.poll() is None:
            first.kill()
        db.dispose()


def _claimer(database_url: str, owner: str, out: str) -> None:
    db = Database(database_url)
    claimed = []
    while True:
        with db.transaction() as s:
            job_id = repository.claim_next(s, owner, utcnow(), timedelta(minutes=5))
        if job_id is None:
            break
        claimed.append(job_id)
    with open(out, "w") as fh:
        fh.write("\n".join(map(str, claimed)))
    db.dispose()


def test_one_learner_has_one_job_running_at_a_time(database_url):
    db = Database(database_url)
    topic_id, first = _seed_topic_with_job(db)
    with db.transaction() as s:
        user_id = s.get(Topic, topic_id).user_id
        other = Topic(user_id=user_id, title="More", prompt="p")
        s.add(other)
        s.flush()
        s.add(GenerationJob(topic_id=other.id, user_id=user_id, requested=1, run_after=utcnow()))
    lease = timedelta(seconds=60)
    with db.transaction() as s:
        assert repository.claim_next(s, "w1", utcnow(), lease) == first
    with db.transaction() as s:
        assert repository.claim_next(s, "w2", utcnow(), lease) is None  # theirs waits its turn
    with db.transaction() as s:
        s.get(GenerationJob, first).status = "done"
    with db.transaction() as s:
        assert repository.claim_next(s, "w2", utcnow(), lease) not in (None, first)
    db.dispose()


def test_concurrent_claims_never_take_a_job_twice(database_url, tmp_path):
    db = Database(database_url)
    _seed_topic_with_job(db)
    with db.transaction() as s:
        # One active job per topic (a unique index) and one running job per learner (the
        # claim's fairness): 299 more learners, each with a topic and a queued job.
        users = [
            User(email=f"claims{i}@example.com", password_hash="x", plan_anchor=utcnow())
            for i in range(299)
        ]
        s.add_all(users)
        s.flush()
        extra = [Topic(user_id=u.id, title=f"T{i}", prompt="p") for i, u in enumerate(users)]
        s.add_all(extra)
        s.flush()
        s.add_all(
            GenerationJob(topic_id=t.id, user_id=t.user_id, requested=1, run_after=utcnow())
            for t in extra
        )
    code = (
        "import sys; from tests.generation.test_worker_processes import _claimer; "
        "_claimer(sys.argv[1], sys.argv[2], sys.argv[3])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, database_url, f"w{i}", str(tmp_path / f"w{i}.txt")],
                         cwd=os.getcwd())
        for i in range(4)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    claimed = [int(x) for i in range(4) for x in (tmp_path / f"w{i}.txt").read_text().split()]
    assert len(claimed) == 300 and len(set(claimed)) == 300
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(GenerationJob).where(GenerationJob.status == "queued")) == 0
    db.dispose()

