from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from srs.accounts import service as accounts
from srs.accounts.dependencies import CurrentUser
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
    topic_id: RowId, request: Request, user: CurrentUser, db: DbSession, settings: AppSettings
) -> TopicOut:
    """Ask for a batch now; after a failure this is the retry."""
    topic = request.app.state.generation.retry(db, user, topic_id)
    return views.topic_out(db, user, topic, utcnow(), accounts.new_cards_per_day(user, settings))


@router.post("/topics/{topic_id}/feedback", response_model=TopicOut)
def feedback(
    topic_id: RowId,
    body: FeedbackIn,
    request: Request,
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
) -> TopicOut:
    """"Too easy" / "too hard": moves the level of the next batches at once."""
    topic = request.app.state.generation.feedback(db, user, topic_id, body.signal)
    return views.topic_out(db, user, topic, utcnow(), accounts.new_cards_per_day(user, settings))
