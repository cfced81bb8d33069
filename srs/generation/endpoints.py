from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from srs.accounts import service as accounts
from srs.accounts.dependencies import CurrentUser
from srs.generation.dependencies import Generation
from srs.generation.schemas import DuplicateOut, DuplicatePage, MatchedCard
from srs.kit.db import utcnow
from srs.kit.deps import AppSettings, DbSession, RowId
from srs.topics import views
from srs.topics.schemas import TopicOut

router = APIRouter(tags=["generation"])


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal: Literal["too_easy", "too_hard"]


@router.post("/topics/{topic_id}/generate", response_model=TopicOut)
def generate_more(
    topic_id: RowId,
    generation: Generation,
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
) -> TopicOut:
    """Ask for a batch now; after a failure this is the retry."""
    topic = generation.retry(db, user, topic_id)
    return views.topic_out(db, user, topic, utcnow(), accounts.new_cards_per_day(user, settings))


@router.post("/topics/{topic_id}/feedback", response_model=TopicOut)
def feedback(
    topic_id: RowId,
    body: FeedbackIn,
    generation: Generation,
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
) -> TopicOut:
    """ "Too easy" / "too hard": moves the level of the next batches at once."""
    topic = generation.feedback(db, user, topic_id, body.signal)
    return views.topic_out(db, user, topic, utcnow(), accounts.new_cards_per_day(user, settings))


@router.get("/topics/{topic_id}/duplicates", response_model=DuplicatePage)
def list_duplicates(
    topic_id: RowId,
    user: CurrentUser,
    db: DbSession,
    generation: Generation,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> DuplicatePage:
    """Generated cards dropped as repeats, newest first, each with the card it matched: a
    false merge can be seen and reported."""
    rows, next_cursor = generation.duplicates(db, user, topic_id, limit, cursor)
    items = [
        DuplicateOut(
            front=rejection.front,
            back=rejection.back,
            matched=MatchedCard(id=card.id, front=card.front, back=card.back) if card else None,
            score=rejection.score,
            job_id=rejection.job_id,
            created_at=rejection.created_at,
        )
        for rejection, card in rows
    ]
    return DuplicatePage(items=items, next_cursor=next_cursor)
