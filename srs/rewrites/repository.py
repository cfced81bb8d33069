from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from srs.rewrites.models import CardRewrite


def add(session: Session, row: CardRewrite) -> None:
    session.add(row)
    session.flush()


def get(
    session: Session, user_id: int, rewrite_id: int, *, lock: bool = False
) -> CardRewrite | None:
    query = select(CardRewrite).where(CardRewrite.id == rewrite_id, CardRewrite.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def user_rewrites(session: Session, user_id: int) -> list[CardRewrite]:
    query = select(CardRewrite).where(CardRewrite.user_id == user_id).order_by(CardRewrite.id)
    return list(session.scalars(query))
