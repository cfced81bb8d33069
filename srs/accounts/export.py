"""All of a learner's data as one JSON document, written piece by piece as it is read.

Rows are dumped column by column, so a column another domain adds later is exported too.
Only secrets stay out: the password hash (tokens live in their own tables and are not read)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from srs.accounts import repository
from srs.generation import service as generation
from srs.kit.db import Database, utcnow
from srs.kit.errors import unauthorized
from srs.rewrites import service as rewrites
from srs.sources import service as sources
from srs.study import service as study
from srs.topics import service as topics

FORMAT = "srs-export/1"
_SECRET_COLUMNS = {"password_hash"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export a {type(value).__name__}")


def row_dict(row: Any) -> dict[str, Any]:
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key not in _SECRET_COLUMNS
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _array(rows: Iterable[Any]) -> Iterator[str]:
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + "\n" + _dumps(row_dict(row))
    yield "\n]"


def _cards(session: Session, topic_list: list) -> Iterator[Any]:
    for topic in topic_list:
        cards = topics.topic_cards(session, topic)
        yield from cards
        for card in cards:  # one topic's cards in memory at a time
            session.expunge(card)


def document(session: Session, user_id: int) -> Iterator[str]:
    user = repository.get_user(session, user_id)
    if user is None:
        raise unauthorized()
    topic_list = topics.list_topics(session, user)
    yield "{" + f'"format": {_dumps(FORMAT)}, "exported_at": {_dumps(utcnow())},\n'
    yield f'"user": {_dumps(row_dict(user))},\n"topics": '
    yield from _array(topic_list)
    yield ',\n"cards": '
    yield from _array(_cards(session, topic_list))
    yield ',\n"reviews": '
    yield from _array(study.review_history(session, user))
    exported = {**sources.export_rows(session, user.id), **rewrites.export_rows(session, user.id)}
    for name, rows in exported.items():
        yield f',\n"{name}": '
        yield from _array(rows)
    yield ',\n"held_cards": '
    yield from _array(generation.held_cards_of(session, user.id))
    yield "\n}\n"


def stream(db: Database, user_id: int) -> Iterator[bytes]:
    """One read transaction for the whole document, so it is a consistent snapshot; opened
    when the first chunk is asked for, closed when the last is sent (or the client leaves)."""
    with db.transaction(write=False) as session:
        if not db.is_sqlite:  # SQLite's read transaction is a snapshot already
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        pending: list[str] = []
        size = 0
        for piece in document(session, user_id):
            pending.append(piece)
            size += len(piece)
            if size >= 64 * 1024:
                yield "".join(pending).encode()
                pending, size = [], 0
        yield "".join(pending).encode()
