from __future__ import annotations

from fastapi import APIRouter, Request, Response

from srs.accounts import service as accounts
from srs.accounts.dependencies import CurrentUser
from srs.kit.db import utcnow
from srs.kit.deps import AppSettings, DbSession, RowId
from srs.topics import service, views
from srs.topics.schemas import CardIn, CardOut, CardPatch, TopicIn, TopicOut, TopicPatch

router = APIRouter(tags=["topics"])


def _topic_out(db, user, topic, settings) -> TopicOut:
    return views.topic_out(db, user, topic, utcnow(), accounts.new_cards_per_day(user, settings))


@router.post("/topics", status_code=201, response_model=TopicOut)
def create_topic(
    body: TopicIn, request: Request, user: CurrentUser, db: DbSession, settings: AppSettings
) -> TopicOut:
    limit = settings.rate_topics_per_hour
    request.app.state.limiter.hit("topics", str(user.id), limit, 3600)
    topic = request.app.state.generation.create_topic(db, user, body)
    return _topic_out(db, user, topic, settings)


@router.get("/topics", response_model=list[TopicOut])
def list_topics(user: CurrentUser, db: DbSession, settings: AppSettings) -> list[TopicOut]:
    return [_topic_out(db, user, t, settings) for t in service.list_topics(db, user)]


@router.get("/topics/{topic_id}", response_model=TopicOut)
def get_topic(topic_id: RowId, user: CurrentUser, db: DbSession, settings: AppSettings) -> TopicOut:
    return _topic_out(db, user, service.get_topic(db, user, topic_id), settings)


@router.patch("/topics/{topic_id}", response_model=TopicOut)
def update_topic(
    topic_id: RowId, body: TopicPatch, user: CurrentUser, db: DbSession, settings: AppSettings
) -> TopicOut:
    topic = service.update_topic(db, user, topic_id, body)
    return _topic_out(db, user, topic, settings)


@router.delete("/topics/{topic_id}", status_code=204)
def delete_topic(topic_id: RowId, user: CurrentUser, db: DbSession) -> Response:
    service.delete_topic(db, user, topic_id)
    return Response(status_code=204)


@router.get("/topics/{topic_id}/cards", response_model=list[CardOut])
def list_cards(topic_id: RowId, user: CurrentUser, db: DbSession) -> list[CardOut]:
    topic = service.get_topic(db, user, topic_id)
    return [views.card_out(c) for c in service.topic_cards(db, topic)]


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
