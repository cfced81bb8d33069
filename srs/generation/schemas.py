from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class MatchedCard(BaseModel):
    id: int
    front: str
    back: str


class DuplicateOut(BaseModel):
    """A generated card dropped as a repeat of `matched` (null once that card was deleted)."""

    front: str
    back: str
    matched: MatchedCard | None
    score: float
    job_id: int | None
    created_at: datetime


class DuplicatePage(BaseModel):
    items: list[DuplicateOut]
    next_cursor: str | None
