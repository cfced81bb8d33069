from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from srs.kit.db import Base, UTCDateTime, utcnow

NAME_CHARS = 120
SCOPE_CHARS = 300


class Subtopic(Base):
    """One entry of a topic's outline: the batches of cards target the least-covered one."""

    __tablename__ = "subtopics"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_CHARS))
    scope: Mapped[str] = mapped_column(String(SCOPE_CHARS), default="")
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
