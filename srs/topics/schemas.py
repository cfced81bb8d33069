from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Front = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Back = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]

GenerationStatus = Literal["idle", "queued", "running", "failed", "quota_exceeded"]
CardState = Literal["new", "learning", "review", "relearning"]


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt


class TopicPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    new_per_day: int | None = Field(None, ge=0, le=1000)


class Counts(BaseModel):
    new: int = Field(description="new cards still studyable today (daily limit applied)")
    learning: int = Field(description="learning and relearning cards due now")
    review: int = Field(description="review cards due now")
    ready: int = Field(description="unseen cards in the buffer, whatever the daily limit")


class Generation(BaseModel):
    status: GenerationStatus
    error: str | None = None
    cards_in_flight: int = Field(0, description="cards asked of the LLM and not yet saved")
    eta_seconds: int | None = Field(
        None,
        description="when no card is ready and a batch is under way: about how many seconds "
        "until the next card, from the provider's measured speed; otherwise null",
    )


class TopicOut(BaseModel):
    id: int
    title: str
    prompt: str
    level: int = Field(description="difficulty 1 to 10 used for the next batch")
    level_estimate: float
    recent_success: float | None = Field(None, description="recent first-attempt success rate")
    new_per_day: int
    counts: Counts
    generation: Generation
    created_at: datetime
    last_studied_at: datetime | None


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    front: Front
    back: Back


class CardPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    front: Front | None = None
    back: Back | None = None


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class CardOut(BaseModel):
    id: int
    topic_id: int
    front: str
    back: str
    extra: dict[str, str] | None = None
    state: CardState
    due: datetime
    level: int | None
    model: str | None
    model_notice: str | None = Field(
        None, description="how far to trust the model that wrote it (set for the embedded models)"
    )
    reps: int
    lapses: int
    suspended: bool
    buried_until: datetime | None
    flag_reason: str | None
    created_at: datetime
