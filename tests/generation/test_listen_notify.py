"""PostgreSQL LISTEN/NOTIFY: a card saved by a separate `srs worker` process reaches a
long-polling client at once, and a dropped listening connection is survived."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import text

from srs.kit import metrics
from srs.kit.db import Database, utcnow
from srs.topics.models import Card
from tests.conftest import Api, make_settings
from tests.generation.conftest import llm_settings, wait_for
from tests.generation.test_worker_processes import _start_worker, _worker_env
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply
from tests.support.server import running_app

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url(database_url) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite wakes long-polls in-process")
    return database_url


def _created_at(db: Database, card_id: int) -> datetime:
    with db.transaction(write=False) as s:
        return s.get(Card, card_id).created_at


def test_a_card_from_a_separate_worker_reaches_the_long_poll_at_once(pg_url, llm, tmp_path):
    settings = llm_settings(pg_url, llm, worker_enabled=False, ticker_enabled=False)
    llm.default = Reply(text=batch_xml(capitals(3)), ttft=0.5, tokens_per_second=200)
    db = Database(pg_url)
    with running_app(settings) as (base_url, app):
        api = Api(base_url)
        api.signup("listen@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        wait_for(lambda: app.state.events.listening, timeout=10)
        worker = _start_worker(_worker_env(pg_url, llm.base_url), tmp_path)
        try:
            answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 30})
            received = utcnow()
        finally:
            worker.terminate()
            worker.wait(timeout=10)
            api.http.close()
        card = answer.json()["card"]
        assert card is not None
        lag = (received - _created_at(db, card["id"])).total_seconds()
    db.dispose()
    assert lag < 0.25, f"the card took {lag:.3f} s from its save to the client"


def _terminate_listener(db: Database) -> int:
    with db.transaction() as s:
        return len(
            s.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = 'LISTEN srs_topic'"
                )
            ).all()
        )


def test_long_polls_survive_a_dropped_listener_and_it_reconnects(pg_url, caplog):
    settings = make_settings(pg_url, worker_enabled=False, ticker_enabled=False)
    db = Database(pg_url)
    with running_app(settings) as (base_url, app):
        api = Api(base_url)
        api.signup("drop@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        events = app.state.events
        wait_for(lambda: events.listening, timeout=10)
        reconnects = metrics.LISTENER_RECONNECTS._value.get()
        result: dict = {}

        def poll() -> None:
            result["answer"] = api.get(f"/topics/{topic['id']}/next", params={"wait": 20}).json()
            result["at"] = time.monotonic()

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.3)  # the poll is waiting
        assert _terminate_listener(db) == 1
        # Saved while nobody listens, and never announced: only a re-read can find it.
        with db.transaction() as s:
            s.add(Card(topic_id=topic["id"], user_id=_owner(db, topic["id"]), front="Q", back="A"))
        saved = time.monotonic()
        poller.join(timeout=20)
        api.http.close()
        assert result["answer"]["card"]["front"] == "Q"
        assert result["at"] - saved < 2.0  # the reconnect re-reads; no 5 s safety poll needed
        wait_for(lambda: events.listening, timeout=10)
        assert metrics.LISTENER_RECONNECTS._value.get() >= reconnects + 1
        assert any("connection lost" in r.getMessage() for r in caplog.records)
    db.dispose()


def _owner(db: Database, topic_id: int) -> int:
    with db.transaction(write=False) as s:
        return s.execute(text("SELECT user_id FROM topics WHERE id = :t"), {"t": topic_id}).scalar()
