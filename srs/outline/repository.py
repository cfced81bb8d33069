"""Every query of the subtopics table."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from srs.outline.models import Subtopic


def subtopics(session: Session, topic_id: int) -> list[Subtopic]:
    return list(
        session.scalars(
            select(Subtopic)
            .where(Subtopic.topic_id == topic_id)
            .order_by(Subtopic.position, Subtopic.id)
        )
    )


def get(session: Session, subtopic_id: int) -> Subtopic | None:
    return session.get(Subtopic, subtopic_id)


def count(session: Session, topic_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Subtopic).where(Subtopic.topic_id == topic_id)
        )
        or 0
    )


def add(session: Session, row: Subtopic) -> None:
    session.add(row)
    session.flush()


def delete(session: Session, row: Subtopic) -> None:
    session.delete(row)
    session.flush()
