from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from srs.generation.verdicts import VerdictLabel


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


class HeldCitation(BaseModel):
    passage_id: int
    quote: str


class HeldCardOut(BaseModel):
    """A card the verification pass held back: never shown in study, never billed."""

    id: int
    topic_id: int
    front: str
    back: str
    text: str | None = Field(None, description="a cloze card: its note's text")
    label: VerdictLabel = Field(
        description="why: wrong, ambiguous, not_one_fact, unsupported (by its passage), "
        "unsure (the model answered its question differently when asked again), or "
        "unchecked (the check itself failed)"
    )
    reason: str = Field(description="the verifier's reason, for the learner")
    verifier: str | None = Field(description="the model that judged it; null when unchecked")
    model: str | None = Field(description="the model that wrote it")
    source: HeldCitation | None = None
    created_at: datetime


class HeldCardPage(BaseModel):
    items: list[HeldCardOut]
    next_cursor: str | None
    check_notice: str | None = Field(
        None, description="set when the check runs on the embedded model: how far to trust it"
    )
