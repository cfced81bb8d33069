from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from srs.topics.schemas import CardOut, Counts, Generation


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=4, description="1 Again, 2 Hard, 3 Good, 4 Easy")
    duration_ms: int | None = Field(None, ge=0, le=86_400_000)
    review_id: str | None = Field(
        None, min_length=1, max_length=64, description="made by the client; a retry repeats it"
    )


class StudyCardOut(CardOut):
    intervals: dict[str, int] = Field(description="seconds until the card returns, per rating")


class NextOut(BaseModel):
    card: StudyCardOut | None
    counts: Counts
    generation: Generation
    next_due: datetime | None = Field(
        None, description="when the next learning or review card falls due, if none is due now"
    )
    new_limit_reached: bool = False
    level: int = Field(description="the topic's level for its next batch, as in GET /topics/{id}")
    recent_success: float | None = Field(
        None, description="the topic's recent first-attempt success rate, as in GET /topics/{id}"
    )


class ReviewOut(BaseModel):
    card: CardOut
    next: NextOut | None = Field(None, description="with ?next=1: what GET /topics/{id}/next says")
