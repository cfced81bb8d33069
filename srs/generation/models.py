from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from srs.kit.db import Base, UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    """A job's life: queued -> running -> done | failed | quota_exceeded | cancelled; a retry goes
    back to queued."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    QUOTA_EXCEEDED = "quota_exceeded"
    CANCELLED = "cancelled"


_ACTIVE = f"status IN ('{JobStatus.QUEUED}', '{JobStatus.RUNNING}')"


class JobKind(enum.StrEnum):
    CARDS = "cards"  # a batch of cards for one subtopic
    OUTLINE = "outline"  # the topic's outline, or new subtopics extending it


class GenerationJob(Base):
    """One request to the LLM for a batch of cards, claimed by a worker under a lease."""

    __tablename__ = "generation_jobs"
    __table_args__ = (
        Index("ix_generation_jobs_claim", "status", "run_after"),
        # At most one queued or running job per topic, whichever process asks.
        Index(
            "uq_generation_jobs_active_topic",
            "topic_id",
            unique=True,
            postgresql_where=text(_ACTIVE),
            sqlite_where=text(_ACTIVE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(
        String(16), default=JobKind.CARDS.value, server_default=JobKind.CARDS.value
    )
    # The subtopic a card batch was written for (chosen when the job starts).
    subtopic_id: Mapped[int | None] = mapped_column(
        ForeignKey("subtopics.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(32), default=JobStatus.QUEUED.value)
    requested: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer, default=3)
    saved: Mapped[int] = mapped_column(Integer, default=0)
    next_ordinal: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Metering's reservation for this batch (its random key, set when the job first starts):
    # metering owns the cards held and keys the batch's billing events on it.
    reservation_key: Mapped[str | None] = mapped_column(String(32), default=None)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CardEmbedding(Base):
    """A card's dedup vectors (float32 bytes), kept so a restart does not embed the deck again.
    Vectors of another model than the one configured are recomputed, never compared."""

    __tablename__ = "card_embeddings"

    card_id: Mapped[int] = mapped_column(
        ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200))
    card_vector: Mapped[bytes] = mapped_column(LargeBinary)  # front and back together
    answer_vector: Mapped[bytes] = mapped_column(LargeBinary)  # the back alone


class DuplicateRejection(Base):
    """A generated card dropped as a repeat, with the card it matched: a false merge can be
    seen and reported (GET /topics/{id}/duplicates)."""

    __tablename__ = "duplicate_rejections"
    __table_args__ = (Index("ix_duplicate_rejections_topic", "topic_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("generation_jobs.id", ondelete="SET NULL"), index=True, default=None
    )
    front: Mapped[str] = mapped_column(Text)
    back: Mapped[str] = mapped_column(Text)
    matched_card_id: Mapped[int | None] = mapped_column(
        ForeignKey("cards.id", ondelete="SET NULL"), index=True, default=None
    )
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HeldCard(Base):
    """A generated card the verification pass held back, with its reason: never shown, never
    billed, until the learner restores it (it then becomes a card through the topics service).
    Kept apart from `cards` so the study queue's partial indexes and count triggers never see
    it. A held card carries everything restoring needs: its text, its author, its citation."""

    __tablename__ = "held_cards"
    __table_args__ = (Index("ix_held_cards_topic", "topic_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("generation_jobs.id", ondelete="SET NULL"), index=True, default=None
    )
    front: Mapped[str] = mapped_column(Text)
    back: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict | None] = mapped_column(JSON, default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    level: Mapped[int | None] = mapped_column(Integer, default=None)
    subtopic_id: Mapped[int | None] = mapped_column(
        ForeignKey("subtopics.id", ondelete="SET NULL"), default=None
    )
    cloze_text: Mapped[str | None] = mapped_column(Text, default=None)
    cloze_ordinal: Mapped[int | None] = mapped_column(Integer, default=None)
    note_guid: Mapped[str | None] = mapped_column(String(64), default=None)
    # The passage it cites ({passage_id, quote, start, end}); restored with the card while
    # the passage exists.
    citation: Mapped[dict | None] = mapped_column(JSON, default=None)
    label: Mapped[str] = mapped_column(String(32))  # a verdicts.VerdictLabel value
    reason: Mapped[str] = mapped_column(Text)
    verifier: Mapped[str | None] = mapped_column(String(200), default=None)  # the model that judged
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
