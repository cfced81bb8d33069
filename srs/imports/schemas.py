from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from srs.imports.models import ImportStatus


class ImportOut(BaseModel):
    id: int
    status: ImportStatus
    progress: float = Field(description="0 to 1")
    counts: dict[str, int] = Field(
        description="cards, notes, reviews, topics, media_files, media_references, "
        "cloze_notes, skipped_cloze_notes, skipped_cloze_cards, skipped_empty, skipped_unsupported..."
    )
    topic_ids: list[int] = Field(description="the topics that received the cards")
    filename: str
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
