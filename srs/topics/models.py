from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import text

from srs.kit.db import Base, UTCDateTime, utcnow
from srs.outline.models import Subtopic
from srs.sources.models import CardCitation

# A card whose lapses (Again on a card in review) since its last accepted rewrite reach this
# is a leech, in Anki's sense (Anki counts lapses too; its default threshold is 8).
LEECH_LAPSES = 4


class CardStyle(enum.StrEnum):
    """What kind of cards a topic's batches ask the model for."""

    BASIC = "basic"
    CLOZE = "cloze"
    MIXED = "mixed"


class GenerationStatus(enum.StrEnum):
    """What a topic's card writing is doing, as the learner sees it."""

    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"
    QUOTA_EXCEEDED = "quota_exceeded"
    # The topic writes no cards (generation turned off, or the topic archived).
    PAUSED = "paused"


class CardType(enum.StrEnum):
    BASIC = "basic"
    CLOZE = "cloze"


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    # The controller's continuous estimate; batches are asked for at its rounded value.
    level: Mapped[float] = mapped_column(Float, default=3.0)
    difficulty_state: Mapped[dict | None] = mapped_column(JSON, default=None)
    new_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    # Off: no batches are queued for the topic (its generation shows "paused").
    generation_enabled: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=sa_true()
    )
    generation_status: Mapped[str] = mapped_column(
        String(32), default=GenerationStatus.IDLE.value
    )
    generation_error: Mapped[str | None] = mapped_column(Text, default=None)
    card_style: Mapped[str] = mapped_column(
        String(16), default=CardStyle.BASIC.value, server_default=CardStyle.BASIC.value
    )
    # The verification pass: null follows the default (on for a topic with sources, off for
    # the others); true or false is the learner's choice.
    verify_cards: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # Batches in a row that added no card (all duplicates): stops a repetitive model looping.
    fruitless_batches: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_studied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Made by an import: counts toward the plan's topic limit only once it generates.
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An archived topic keeps its cards, writes no new ones and takes no active-topic slot.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def generates(self) -> bool:
        """Whether batches may be queued for this topic."""
        return self.generation_enabled and self.archived_at is None

    def verifies(self, grounded: bool) -> bool:
        """Whether its batches go through the verification pass (grounded: it has sources)."""
        return grounded if self.verify_cards is None else self.verify_cards


# The partial indexes' predicates, shared with migration 0011.
SEEN_PG = "last_review IS NOT NULL AND suspended = false"
SEEN_SQLITE = "last_review IS NOT NULL AND suspended = 0"
UNSEEN_PG = "last_review IS NULL AND suspended = false"
UNSEEN_SQLITE = "last_review IS NULL AND suspended = 0"
BURIED_UNSEEN_PG = f"buried_until IS NOT NULL AND {UNSEEN_PG}"
BURIED_UNSEEN_SQLITE = f"buried_until IS NOT NULL AND {UNSEEN_SQLITE}"


class TopicCardCount(Base):
    """A topic's cards never answered and not suspended (buried ones included), kept by
    triggers on `cards` (migration 0011): exact whatever writes a card, bulk imports and raw
    SQL included, and read in one row instead of counting a deck. No row: none yet."""

    __tablename__ = "topic_card_counts"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    unseen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        # A retried generation job can never save the same card twice.
        UniqueConstraint("job_id", "ordinal"),
        Index("ix_cards_topic_note", "topic_id", "note_guid"),
        # The study queue, read in its own order (see srs/study/repository.py): cards seen and
        # not suspended by (due, id), the due ones counted from the same entries; cards never
        # seen by id; and the few unseen ones buried. The predicates are spelt as the queries spell
        # them (`suspended = false`), or SQLite would not use the partial indexes. They replace
        # (topic_id, suspended, due), which SQLite preferred and then walked through every
        # unseen card (all due since they were made).
        Index(
            "ix_cards_queue_seen",
            "topic_id",
            "due",
            "id",
            "state",
            "buried_until",
            # In the predicate already, but SQLite only counts from the index alone (covering)
            # when every column the query names is in it.
            "last_review",
            "suspended",
            postgresql_where=text(SEEN_PG),
            sqlite_where=text(SEEN_SQLITE),
        ),
        Index(
            "ix_cards_queue_unseen",
            "topic_id",
            "id",
            "buried_until",
            postgresql_where=text(UNSEEN_PG),
            sqlite_where=text(UNSEEN_SQLITE),
        ),
        Index(
            "ix_cards_buried_unseen",
            "topic_id",
            "buried_until",
            "last_review",
            "suspended",
            postgresql_where=text(BURIED_UNSEEN_PG),
            sqlite_where=text(BURIED_UNSEEN_SQLITE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    front: Mapped[str] = mapped_column(Text)
    back: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict | None] = mapped_column(JSON, default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    level: Mapped[int | None] = mapped_column(Integer, default=None)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("generation_jobs.id", ondelete="SET NULL"), default=None
    )
    ordinal: Mapped[int | None] = mapped_column(Integer, default=None)
    # A cloze card: its note's text (`{{c1::...}}`, see srs.topics.cloze), the deletion number
    # it tests, and the note it shares with its siblings (one card per number, as in Anki).
    # `front` and `back` hold the text rendered for that number. All null on a basic card.
    cloze_text: Mapped[str | None] = mapped_column(Text, default=None)
    cloze_ordinal: Mapped[int | None] = mapped_column(Integer, default=None)
    note_guid: Mapped[str | None] = mapped_column(String(64), default=None)
    # The outline entry the card was written for; a removed subtopic leaves its cards (null).
    subtopic_id: Mapped[int | None] = mapped_column(
        ForeignKey("subtopics.id", ondelete="SET NULL"), default=None, index=True
    )
    subtopic: Mapped[Subtopic | None] = relationship(lazy="selectin", viewonly=True)
    # The passage of a source the card was written from (srs/sources), if any.
    citation: Mapped[CardCitation | None] = relationship(lazy="selectin", viewonly=True)

    # FSRS memory state (see srs.study.scheduling.MemoryState).
    state: Mapped[int] = mapped_column(Integer, default=1)
    step: Mapped[int | None] = mapped_column(Integer, default=0)
    stability: Mapped[float | None] = mapped_column(Float, default=None)
    difficulty: Mapped[float | None] = mapped_column(Float, default=None)
    due: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_review: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reps: Mapped[int] = mapped_column(Integer, default=0)
    lapses: Mapped[int] = mapped_column(Integer, default=0)

    # The lapses count when a rewrite of the card was last accepted: a leech counts afresh.
    rewritten_at_lapses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the service suspended it for good (a leech split into two new cards by a rewrite).
    retired_reason: Mapped[str | None] = mapped_column(Text, default=None)
    buried_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    flag_reason: Mapped[str | None] = mapped_column(Text, default=None)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def leech(self) -> bool:
        return self.lapses - self.rewritten_at_lapses >= LEECH_LAPSES

    @property
    def type(self) -> CardType:
        return CardType.CLOZE if self.cloze_text is not None else CardType.BASIC
