from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from srs.topics.models import Card, Topic


def list_topics(session: Session, user_id: int) -> list[Topic]:
    return list(
        session.scalars(select(Topic).where(Topic.user_id == user_id).order_by(Topic.id.desc()))
    )


def get_topic(session: Session, user_id: int, topic_id: int, *, lock: bool = False) -> Topic | None:
    query = select(Topic).where(Topic.id == topic_id, Topic.user_id == user_id)
    if lock:
        # A locked read must see the row as it is now, not as this session first loaded it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def count_topics(session: Session, user_id: int) -> int:
    return len(session.scalars(select(Topic.id).where(Topic.user_id == user_id)).all())


def add(session: Session, row: Topic | Card) -> None:
    session.add(row)
    session.flush()


def delete(session: Session, row: Topic | Card) -> None:
    session.delete(row)
    session.flush()


def get_card(session: Session, user_id: int, card_id: int, *, lock: bool = False) -> Card | None:
    query = select(Card).where(Card.id == card_id, Card.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def topic_cards(session: Session, topic_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.topic_id == topic_id).order_by(Card.id)))


def topic_fronts(session: Session, topic_id: int) -> list[str]:
    return list(session.scalars(select(Card.front).where(Card.topic_id == topic_id)))
