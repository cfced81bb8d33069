"""A proposed rewrite of a leech: one clearer card, or a split into two, that the learner
accepts or rejects."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from srs.kit.db import Base, UTCDateTime, utcnow


class RewriteStatus(enum.StrEnum):
    PROPOSED = "proposed"  # waiting for the learner; nothing changed yet
    ACCEPTED = "accepted"  # applied: the card reworded, or retired for the two new ones
    REJECTED = "rejected"  # the learner kept the card as it was


class RewriteKind(enum.StrEnum):
    REWORD = "reword"  # one card: the same card, new text, its history kept
    SPLIT = "split"  # two cards: the old card retired, two new cards added


class CardRewrite(Base):
    __tablename__ = "card_rewrites"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RewriteStatus.PROPOSED.value)
    # The card's text when the proposal was made: an accept after the card changed is refused.
    original_front: Mapped[str] = mapped_column(Text)
    original_back: Mapped[str] = mapped_column(Text)
    # [{"front": ..., "back": ...}], one or two cards, as the model wrote them (parsed).
    cards: Mapped[list] = mapped_column(JSON)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    # A split's two new cards, once accepted.
    new_card_ids: Mapped[list | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def kind(self) -> RewriteKind:
        return RewriteKind.SPLIT if len(self.cards) > 1 else RewriteKind.REWORD
