"""A topic's sources (pasted text, an uploaded file, a web page), the passages they are split
into, and each grounded card's citation of one passage."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from srs.kit.db import Base, UTCDateTime, utcnow


class SourceStatus(enum.StrEnum):
    PENDING = "pending"  # stored, waiting for the extraction thread
    EXTRACTING = "extracting"  # being fetched, read and split
    READY = "ready"  # its passages exist; batches work through them in order
    FAILED = "failed"  # `error` says why (encrypted, scanned, too large, refused URL...)
    # Deleted by the learner: its text and passages are gone (the usage ledger, not this row,
    # keeps counting its size and pages: deleting refunds nothing).
    REMOVED = "removed"


class SourceKind(enum.StrEnum):
    TEXT = "text"  # pasted
    FILE = "file"  # uploaded
    URL = "url"  # fetched


class SourceFormat(enum.StrEnum):
    PLAIN = "plain"
    MARKDOWN = "markdown"
    HTML = "html"
    PDF = "pdf"
    EPUB = "epub"


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(16), default=None)  # known once read
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default=SourceStatus.PENDING.value)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)  # PDF pages
    # The extracted text: every passage's offsets point into it.
    text: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SourceUsage(Base):
    """The sources' usage ledger: one row per accepted source, the one count both the plan's
    monthly limits and GET /usage read. A source that fails to be read (or is past the limits
    once its pages are known) loses its row: it was never accepted."""

    __tablename__ = "source_usage"
    __table_args__ = (
        Index("ix_source_usage_user_created", "user_id", "created_at"),
        # Ids never handed out twice on SQLite either: see `source_id`.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # A plain id, no foreign key: deleting a topic cascades its sources away but must not
    # refund the period's usage. SQLite may give a later source the same id (sources has no
    # AUTOINCREMENT), so a source's row is the newest one of its id.
    source_id: Mapped[int] = mapped_column(Integer, index=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)  # 0 until the source is read
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Passage(Base):
    """A bounded piece of a source (one page's text, or a section's), in reading order."""

    __tablename__ = "passages"
    __table_args__ = (
        Index("ix_passages_topic_order", "topic_id", "rounds", "source_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(String(300), default=None)
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    label: Mapped[str] = mapped_column(String(400))
    start: Mapped[int] = mapped_column(Integer)  # character offsets into Source.text
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # How many batches have worked on it: the next batch takes the lowest round, in order.
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    # The batch working on it now (kept by that batch's retries).
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("generation_jobs.id", ondelete="SET NULL"), default=None, index=True
    )


class CardCitation(Base):
    """The passage a grounded card was written from, and the span it quotes."""

    __tablename__ = "card_citations"

    card_id: Mapped[int] = mapped_column(
        ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True
    )
    passage_id: Mapped[int] = mapped_column(
        ForeignKey("passages.id", ondelete="CASCADE"), index=True
    )
    quote: Mapped[str] = mapped_column(Text)
    # Offsets of the quote in the passage's text.
    quote_start: Mapped[int] = mapped_column(Integer)
    quote_end: Mapped[int] = mapped_column(Integer)
    passage: Mapped[Passage] = relationship(lazy="selectin", viewonly=True)
