from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import InstrumentedAttribute, Session

from srs.topics.models import Card, Topic

LIKE_ESCAPE = "\\"
LEARNING_STATES = (1, 3)
REVIEW_STATE = 2


def list_topics(session: Session, user_id: int) -> list[Topic]:
    return list(
        session.scalars(select(Topic).where(Topic.user_id == user_id).order_by(Topic.id.desc()))
    )


def topics_page(session: Session, user_id: int, before: int | None, limit: int) -> list[Topic]:
    """Newest first; up to limit + 1 topics older than `before`."""
    query = select(Topic).where(Topic.user_id == user_id)
    if before is not None:
        query = query.where(Topic.id < before)
    return list(session.scalars(query.order_by(Topic.id.desc()).limit(limit + 1)))


@dataclass(frozen=True)
class CardQuery:
    user_id: int
    topic_id: int | None = None
    text: str | None = None  # searched in front and back, case-insensitively
    state: str | None = None  # one of schemas.CardFilter


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _folded(session: Session, column: InstrumentedAttribute[str]) -> ColumnElement[str]:
    # SQLite's own lower() folds ASCII only; kit.db registers unicode_lower (Python's).
    if session.get_bind().dialect.name == "sqlite":
        return func.unicode_lower(column)
    return func.lower(column)


def _state_filter(state: str) -> ColumnElement[bool]:
    seen = Card.last_review.is_not(None)
    return {
        "new": Card.last_review.is_(None),
        "learning": seen & Card.state.in_(LEARNING_STATES),
        "review": seen & (Card.state == REVIEW_STATE),
        "suspended": Card.suspended.is_(True),
        "flagged": Card.flag_reason.is_not(None),
    }[state]


def cards_page(session: Session, query: CardQuery, after: int | None, limit: int) -> list[Card]:
    """Oldest first; up to limit + 1 of the user's cards past `after` that match."""
    statement = select(Card).where(Card.user_id == query.user_id)
    if query.topic_id is not None:
        statement = statement.where(Card.topic_id == query.topic_id)
    if query.text:
        pattern = f"%{_escape_like(query.text.lower())}%"
        statement = statement.where(
            _folded(session, Card.front).like(pattern, escape=LIKE_ESCAPE)
            | _folded(session, Card.back).like(pattern, escape=LIKE_ESCAPE)
        )
    if query.state is not None:
        statement = statement.where(_state_filter(query.state))
    if after is not None:
        statement = statement.where(Card.id > after)
    return list(session.scalars(statement.order_by(Card.id).limit(limit + 1)))


def owned_card_ids(session: Session, user_id: int, ids: Sequence[int]) -> list[int]:
    """Which of `ids` are the user's cards, locked against a concurrent change."""
    return list(
        session.scalars(
            select(Card.id).where(Card.user_id == user_id, Card.id.in_(ids)).with_for_update()
        )
    )


def set_suspended(session: Session, ids: Sequence[int], suspended: bool) -> None:
    session.execute(
        update(Card)
        .where(Card.id.in_(ids))
        # Unsuspended, a card retired by a rewrite is back in study: no longer retired.
        .values(suspended=suspended, **({} if suspended else {"retired_reason": None}))
        .execution_options(synchronize_session=False)
    )


def delete_cards(session: Session, ids: Sequence[int]) -> None:
    session.execute(
        sql_delete(Card).where(Card.id.in_(ids)).execution_options(synchronize_session=False)
    )


def get_topic(session: Session, user_id: int, topic_id: int, *, lock: bool = False) -> Topic | None:
    return session.scalar(_owned_topic(lock), {"topic_id": topic_id, "user_id": user_id})


@cache
def _owned_topic(lock: bool) -> Select:
    """Built once (every study step reads its topic): building it cost more than running it."""
    query = select(Topic).where(
        Topic.id == bindparam("topic_id"), Topic.user_id == bindparam("user_id")
    )
    if lock:
        # A locked read must see the row as it is now, not as this session first loaded it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return query


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


def note_cards(session: Session, topic_id: int, note_guid: str) -> list[Card]:
    """The cards of one cloze note, by deletion number."""
    query = (
        select(Card)
        .where(Card.topic_id == topic_id, Card.note_guid == note_guid)
        .order_by(Card.cloze_ordinal, Card.id)
    )
    return list(session.scalars(query))


def topic_cards(session: Session, topic_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.topic_id == topic_id).order_by(Card.id)))


def add_cards_bulk(session: Session, rows: list[dict]) -> list[int]:
    """Insert many cards in a few statements; their ids in the order given."""
    if not rows:
        return []
    inserted = session.execute(insert(Card).returning(Card.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in inserted]


def cards_per_subtopic(
    session: Session, topic_id: int, levels: tuple[int, int] | None = None
) -> dict[int, int]:
    """Card counts by subtopic id (cards without one left out), within `levels` if given."""
    query = (
        select(Card.subtopic_id, func.count())
        .where(Card.topic_id == topic_id, Card.subtopic_id.is_not(None))
        .group_by(Card.subtopic_id)
    )
    if levels is not None:
        query = query.where(Card.level.between(*levels))
    return {subtopic_id: int(count) for subtopic_id, count in session.execute(query)}


def subtopic_cards(session: Session, subtopic_id: int, limit: int) -> list[tuple[str, str]]:
    """(front, back) of a subtopic's cards, newest first."""
    rows = session.execute(
        select(Card.front, Card.back)
        .where(Card.subtopic_id == subtopic_id)
        .order_by(Card.id.desc())
        .limit(limit)
    )
    return [(front, back) for front, back in rows]


def unassigned_cards(session: Session, topic_id: int, limit: int) -> list[tuple[str, str]]:
    """(front, back) of the topic's cards that belong to no subtopic, newest first."""
    rows = session.execute(
        select(Card.front, Card.back)
        .where(Card.topic_id == topic_id, Card.subtopic_id.is_(None))
        .order_by(Card.id.desc())
        .limit(limit)
    )
    return [(front, back) for front, back in rows]
