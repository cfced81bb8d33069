from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from srs.accounts import service as accounts
from srs.accounts.dependencies import CurrentUser
from srs.generation.dependencies import Generation
from srs.kit.db import utcnow
from srs.kit.deps import AppSettings, DbSession, Limiter, RowId
from srs.kit.pagination import MAX_ROW_ID, Paging
from srs.topics import service, views
from srs.topics.schemas import (
    BulkIn,
    BulkOut,
    CardFilter,
    CardIn,
    CardOut,
    CardPage,
    CardPatch,
    TopicIn,
    TopicOut,
    TopicPage,
    TopicPatch,
)

router = APIRouter(tags=["topics"])

SearchText = Annotated[
    str | None,
    Query(max_length=200, description="looked for in front and back, whatever the case"),
]
StateFilter = Annotated[CardFilter | None, Query(description="only cards in this state")]


def _topic_out(db, user, topic, settings) -> TopicOut:
    return views.topic_out(db, user, topic, utcnow(), accounts.new_cards_per_day(user, settings))


def _card_page(page) -> CardPage:
    return CardPage(items=[views.card_out(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("/topics", status_code=201, response_model=TopicOut)
def create_topic(
    body: TopicIn,
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
    generation: Generation,
    limiter: Limiter,
) -> TopicOut:
    limit = settings.rate_topics_per_hour
    limiter.hit("topics", str(user.id), limit, 3600)
    topic = generation.create_topic(db, user, body)
    return _topic_out(db, user, topic, settings)


@router.get("/topics", response_model=TopicPage)
def list_topics(
    paging: Paging, user: CurrentUser, db: DbSession, settings: AppSettings
) -> TopicPage:
    """Newest first, archived topics included (`archived: true`)."""
    page = service.topics_page(db, user, paging)
    new_per_day = accounts.new_cards_per_day(user, settings)
    items = views.topics_out(db, user, page.items, utcnow(), new_per_day)
    return TopicPage(items=items, next_cursor=page.next_cursor)


@router.get("/topics/{topic_id}", response_model=TopicOut)
def get_topic(topic_id: RowId, user: CurrentUser, db: DbSession, settings: AppSettings) -> TopicOut:
    return _topic_out(db, user, service.get_topic(db, user, topic_id), settings)


@router.patch("/topics/{topic_id}", response_model=TopicOut)
def update_topic(
    topic_id: RowId,
    body: TopicPatch,
    user: CurrentUser,
    db: DbSession,
    settings: AppSettings,
    generation: Generation,
) -> TopicOut:
    topic = service.update_topic(db, user, topic_id, body)
    if body.generation_enabled is not None:
        generation.settle(db, topic)
    return _topic_out(db, user, topic, settings)


@router.post("/topics/{topic_id}/archive", response_model=TopicOut)
def archive_topic(
    topic_id: RowId, user: CurrentUser, db: DbSession, settings: AppSettings, generation: Generation
) -> TopicOut:
    """Keep the cards, stop writing new ones, free an active-topic slot of the plan."""
    topic = service.archive_topic(db, user, topic_id)
    generation.settle(db, topic)
    return _topic_out(db, user, topic, settings)


@router.post("/topics/{topic_id}/unarchive", response_model=TopicOut)
def unarchive_topic(
    topic_id: RowId, user: CurrentUser, db: DbSession, settings: AppSettings, generation: Generation
) -> TopicOut:
    """Active again (402 quota_exceeded when the plan has no free topic slot)."""
    topic = service.unarchive_topic(db, settings, user, topic_id)
    generation.settle(db, topic)
    return _topic_out(db, user, topic, settings)


@router.delete("/topics/{topic_id}", status_code=204)
def delete_topic(
    topic_id: RowId, user: CurrentUser, db: DbSession, generation: Generation
) -> Response:
    generation.delete_topic(db, user, topic_id)
    return Response(status_code=204)


@router.get("/topics/{topic_id}/cards", response_model=CardPage)
def list_topic_cards(
    topic_id: RowId,
    paging: Paging,
    user: CurrentUser,
    db: DbSession,
    q: SearchText = None,
    state: StateFilter = None,
) -> CardPage:
    return _card_page(service.cards_page(db, user, paging, topic_id=topic_id, text=q, state=state))


@router.get("/cards", response_model=CardPage)
def list_cards(
    paging: Paging,
    user: CurrentUser,
    db: DbSession,
    topic_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    q: SearchText = None,
    state: StateFilter = None,
) -> CardPage:
    """The card browser: the learner's cards across topics (or one), oldest first."""
    return _card_page(service.cards_page(db, user, paging, topic_id=topic_id, text=q, state=state))


@router.post("/cards/bulk", response_model=BulkOut)
def bulk_cards(body: BulkIn, user: CurrentUser, db: DbSession) -> BulkOut:
    """Suspend, unsuspend or delete several cards at once: all of them, or none (404 when any
    id is not one of the learner's cards)."""
    return BulkOut(action=body.action, count=service.bulk_change(db, user, body))


@router.post("/topics/{topic_id}/cards", status_code=201, response_model=CardOut)
def add_card(topic_id: RowId, body: CardIn, user: CurrentUser, db: DbSession) -> CardOut:
    return views.card_out(service.add_manual_card(db, user, topic_id, body))


@router.get("/cards/{card_id}", response_model=CardOut)
def get_card(card_id: RowId, user: CurrentUser, db: DbSession) -> CardOut:
    return views.card_out(service.get_card(db, user, card_id))


@router.patch("/cards/{card_id}", response_model=CardOut)
def edit_card(card_id: RowId, body: CardPatch, user: CurrentUser, db: DbSession) -> CardOut:
    return views.card_out(service.edit_card(db, user, card_id, body))


@router.delete("/cards/{card_id}", status_code=204)
def delete_card(card_id: RowId, user: CurrentUser, db: DbSession) -> Response:
    service.delete_card(db, user, card_id)
    return Response(status_code=204)
