from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from srs.accounts import service as accounts
from srs.accounts.dependencies import CurrentUser
from srs.generation.dependencies import Generation
from srs.generation.models import HeldCard
from srs.generation.schemas import (
    DuplicateOut,
    DuplicatePage,
    HeldCardOut,
    HeldCardPage,
    HeldCitation,
    MatchedCard,
)
from srs.generation.service import check_notice
from srs.kit.db import utcnow
from srs.kit.deps import AppSettings, DbSession, RowId
from srs.topics import views
from srs.topics.schemas import CardOut, TopicOut

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


def _held_out(held: HeldCard) -> HeldCardOut:
    cited = held.citation
    return HeldCardOut(
        id=held.id,
        topic_id=held.topic_id,
        front=held.front,
        back=held.back,
        text=held.cloze_text,
        label=held.label,
        reason=held.reason,
        verifier=held.verifier,
        model=held.model,
        source=HeldCitation(passage_id=cited["passage_id"], quote=cited["quote"])
        if cited
        else None,
        created_at=held.created_at,
    )


@router.get("/topics/{topic_id}/held-back", response_model=HeldCardPage)
def list_held_back(
    topic_id: RowId,
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
    generation: Generation,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> HeldCardPage:
    """Cards the verification pass held back, newest first, each with its reason."""
    rows, next_cursor = generation.held_cards(db, user, topic_id, limit, cursor)
    return HeldCardPage(
        items=[_held_out(held) for held in rows],
        next_cursor=next_cursor,
        check_notice=check_notice(settings),
    )


@router.post("/held-back/{held_id}/restore", status_code=201, response_model=CardOut)
def restore_held_back(
    held_id: RowId, user: CurrentUser, db: DbSession, generation: Generation
) -> CardOut:
    """Overrule the verifier: the card joins the study queue as a new card (201, the card)."""
    return views.card_out(generation.restore_held(db, user, held_id))
