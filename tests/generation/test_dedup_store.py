"""Stored vectors: a restart (a new index) embeds only the cards that have none."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest

from srs.generation import repository
from srs.generation.dedup import CardText
from srs.generation.service import GenerationService
from srs.kit.db import Database, utcnow
from srs.topics.models import Card
from tests.conftest import make_settings
from tests.metering.conftest import add_topic_with_job, add_user
from tests.support.llm_server import bag_of_words


class CountingEmbedder:
    """A stand-in model that counts the texts it is asked to embed."""

    model = "counting"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        rows = np.array([bag_of_words(t) for t in texts], dtype=np.float32)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def test_vectors_are_computed_once_and_reused_after_a_restart(db, database_url) -> None:
    service = GenerationService(db, make_settings(database_url))
    user_id = add_user(db)
    topic_id, job_id = add_topic_with_job(db, user_id)
    with db.transaction() as s:
        for n in range(5):
            s.add(Card(topic_id=topic_id, user_id=user_id, front=f"Hand-written {n}?",
                       back=f"A{n}", due=utcnow()))
        repository.claim_next(s, "w", utcnow(), timedelta(minutes=5))
    plan = service.start_job(job_id, "w")

    first = CountingEmbedder()
    index = service.dedup_index(plan, "w", first)
    assert len(index) == 5 and len(first.texts) == 10  # front+back and back, per card

    restarted = CountingEmbedder()
    index = service.dedup_index(plan, "w", restarted, [CardText("Example?", "Yes")])
    assert len(index) == 6 and restarted.texts == ["Example?\nYes", "Yes"]
    match = index.duplicate_of(CardText("Hand-written 3?", "A3"), _vectors(restarted, "Hand-written 3?", "A3"))
    assert match is not None and match.score == pytest.approx(1.0)

    other_model = CountingEmbedder()
    other_model.model = "another"
    service.dedup_index(plan, "w", other_model)
    assert len(other_model.texts) == 10  # vectors of another model are never reused


def test_a_lost_lease_stops_the_deck_embedding(db, database_url) -> None:
    service = GenerationService(db, make_settings(database_url))
    user_id = add_user(db)
    topic_id, job_id = add_topic_with_job(db, user_id)
    with db.transaction() as s:
        s.add(Card(topic_id=topic_id, user_id=user_id, front="Q?", back="A", due=utcnow()))
        repository.claim_next(s, "w", utcnow(), timedelta(minutes=5))
    plan = service.start_job(job_id, "w")
    assert service.dedup_index(plan, "someone-else", CountingEmbedder()) is None


def _vectors(embedder, front, back):
    from srs.generation.service import embed_cards

    return embed_cards(embedder, [CardText(front, back)])[0]
