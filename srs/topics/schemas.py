from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from srs.kit.pagination import MAX_ROW_ID, PAGE_MAX
from srs.outline.schemas import SubtopicRef
from srs.sources.schemas import CitationRef

from srs.kit.text import refuse_control_characters

# Control characters (NUL, Anki's U+001F...) are refused with a 422 on every text field.
NoControl = AfterValidator(refuse_control_characters)
Prompt = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NoControl
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControl
]
Front = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), NoControl
]
Back = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), NoControl
]

# "paused": the topic writes no cards (generation turned off, or the topic archived).
GenerationStatus = Literal["idle", "queued", "running", "failed", "quota_exceeded", "paused"]
CardState = Literal["new", "learning", "review", "relearning"]
# What the card browser filters on: a scheduling state, or a mark the learner set.
CardFilter = Literal["new", "learning", "review", "suspended", "flagged"]
BulkAction = Literal["suspend", "unsuspend", "delete"]


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt


class TopicPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    new_per_day: int | None = Field(
        None, ge=0, le=1000, description="new cards a day for this topic; null: the default"
    )
    generation_enabled: StrictBool | None = Field(None, description="false: write no new cards")


class Counts(BaseModel):
    new: int = Field(description="new cards still studyable today (daily limit applied)")
    learning: int = Field(description="learning and relearning cards due now")
    review: int = Field(description="review cards due now")
    ready: int = Field(description="unseen cards in the buffer, whatever the daily limit")


class Generation(BaseModel):
    status: GenerationStatus
    error: str | None = None
    cards_in_flight: int = Field(0, description="cards asked of the LLM and not yet saved")
    step: Literal["outline", "cards"] | None = Field(
        None, description="what the job in flight writes: the topic's outline, or cards"
    )
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
    new_per_day: int = Field(description="the daily new-card limit in force for this topic")
    new_per_day_override: int | None = Field(
        None, description="this topic's own limit; null when the learner's default applies"
    )
    generation_enabled: bool = True
    archived: bool = False
    archived_at: datetime | None = None
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
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NoControl
    ]


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
    subtopic: SubtopicRef | None = Field(None, description="the outline entry it was written for")
    source: CitationRef | None = Field(
        None, description="the passage of a source it was written from, with the quoted span"
    )
    model_notice: str | None = Field(
        None, description="how far to trust the model that wrote it (set for the embedded models)"
    )
    reps: int
    lapses: int
    suspended: bool
    buried_until: datetime | None
    flag_reason: str | None
    created_at: datetime


class TopicPage(BaseModel):
    items: list[TopicOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class CardPage(BaseModel):
    items: list[CardOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(min_length=1, max_length=PAGE_MAX)
    action: BulkAction


class BulkOut(BaseModel):
    action: BulkAction
    count: int = Field(description="cards changed (or deleted)")
