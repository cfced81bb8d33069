"""Topics (decks) and the cards in them: creation, renaming, hand-written cards."""

from __future__ import annotations

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.db import utcnow
from srs.kit.errors import not_found
from srs.topics import repository
from srs.topics.models import Card, Topic
from srs.topics.schemas import CardIn, CardPatch, TopicIn, TopicPatch

TITLE_CHARS = 80


def title_from_prompt(prompt: str) -> str:
    first_line = prompt.strip().splitlines()[0].strip()
    if len(first_line) <= TITLE_CHARS:
        return first_line
    return first_line[: TITLE_CHARS - 1].rstrip() + "…"


def create_topic(session: Session, user: User, data: TopicIn) -> Topic:
    topic = Topic(user_id=user.id, title=title_from_prompt(data.prompt), prompt=data.prompt)
    repository.add(session, topic)
    return topic


def get_topic(session: Session, user: User, topic_id: int, *, lock: bool = False) -> Topic:
    topic = repository.get_topic(session, user.id, topic_id, lock=lock)
    if topic is None:
        raise not_found("Topic not found")
    return topic


def list_topics(session: Session, user: User) -> list[Topic]:
    return repository.list_topics(session, user.id)


def update_topic(session: Session, user: User, topic_id: int, patch: TopicPatch) -> Topic:
    topic = get_topic(session, user, topic_id)
    if patch.title is not None:
        topic.title = patch.title
    if "new_per_day" in patch.model_fields_set:
        topic.new_per_day = patch.new_per_day
    topic.updated_at = utcnow()
    session.flush()
    return topic


def delete_topic(session: Session, user: User, topic_id: int) -> None:
    repository.delete(session, get_topic(session, user, topic_id))


def get_card(session: Session, user: User, card_id: int, *, lock: bool = False) -> Card:
    card = repository.get_card(session, user.id, card_id, lock=lock)
    if card is None:
        raise not_found("Card not found")
    return card


def add_manual_card(session: Session, user: User, topic_id: int, data: CardIn) -> Card:
    topic = get_topic(session, user, topic_id)
    card = Card(topic_id=topic.id, user_id=user.id, front=data.front, back=data.back, due=utcnow())
    repository.add(session, card)
    return card


def edit_card(session: Session, user: User, card_id: int, patch: CardPatch) -> Card:
    card = get_card(session, user, card_id)
    if patch.front is not None:
        card.front = patch.front
    if patch.back is not None:
        card.back = patch.back
    card.updated_at = utcnow()
    session.flush()
    return card


def delete_card(session: Session, user: User, card_id: int) -> None:
    repository.delete(session, get_card(session, user, card_id))


def topic_cards(session: Session, topic: Topic) -> list[Card]:
    return repository.topic_cards(session, topic.id)


def cards_per_subtopic(
    session: Session, topic_id: int, levels: tuple[int, int] | None = None
) -> dict[int, int]:
    return repository.cards_per_subtopic(session, topic_id, levels)


def subtopic_cards(session: Session, subtopic_id: int, limit: int) -> list[tuple[str, str]]:
    return repository.subtopic_cards(session, subtopic_id, limit)
