from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from srs.rewrites.models import RewriteKind, RewriteStatus
from srs.topics.schemas import CardOut


class ProposedCard(BaseModel):
    front: str
    back: str


class RewriteOut(BaseModel):
    id: int
    card_id: int
    status: RewriteStatus
    kind: RewriteKind = Field(
        description="reword: one card replaces the text of the same card (history kept); "
        "split: two new cards replace it (the old one is retired)"
    )
    original: ProposedCard = Field(description="the card's text when the proposal was made")
    cards: list[ProposedCard] = Field(description="the proposal: one card, or two for a split")
    model: str | None = Field(None, description="the model that wrote the proposal")
    created_at: datetime
    decided_at: datetime | None = None


class DecisionOut(BaseModel):
    rewrite: RewriteOut
    card: CardOut = Field(description="the card as it is now: reworded, or retired by a split")
    new_cards: list[CardOut] = Field(
        default_factory=list, description="a split's two new cards (empty otherwise)"
    )
