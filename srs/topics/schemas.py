from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from srs.kit.pagination import MAX_ROW_ID, PAGE_MAX
from srs.kit.text import refuse_control_characters
from srs.outline.schemas import SubtopicRef
from srs.sources.schemas import CitationRef
from srs.topics.cloze import MAX_TEXT_CHARS
from srs.topics.models import CardStyle, CardType, GenerationStatus

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
ClozeText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    NoControl,
]

CardState = Literal["new", "learning", "review", "relearning"]
# What the card browser filters on: a scheduling state, or a mark the learner set.
CardFilter = Literal["new", "learning", "review", "suspended", "flagged"]
BulkAction = Literal["suspend", "unsuspend", "delete"]


STYLE_HELP = "basic: question and answer cards; cloze: {{c1::...}} deletions; mixed: both"


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    card_style: CardStyle = Field(CardStyle.BASIC, description=STYLE_HELP)


class TopicPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    new_per_day: int | None = Field(
        None, ge=0, le=1000, description="new cards a day for this topic; null: the default"
    )
    generation_enabled: StrictBool | None = Field(None, description="false: write no new cards")
    card_style: CardStyle | None = Field(None, description=STYLE_HELP + "; for later batches")
    verify_cards: StrictBool | None = Field(
        None,
        description="check each new card with a second model pass before it is shown; "
        "null: the default (on for a topic with sources, off otherwise)",
    )


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
    card_style: CardStyle = CardStyle.BASIC
    verify_cards: bool = Field(
        False, description="whether new cards go through the verification pass before shown"
    )
    verify_cards_override: bool | None = Field(
        None, description="the learner's choice; null when the default applies"
    )
    archived: bool = False
    archived_at: datetime | None = None
    counts: Counts
    generation: Generation
    created_at: datetime
    last_studied_at: datetime | None


class CardIn(BaseModel):
    """A basic card (`front` and `back`), or a cloze note (`text`), which gives one card per
    deletion number."""

    model_config = ConfigDict(extra="forbid")
    front: Front | None = None
    back: Back | None = None
    text: ClozeText | None = Field(
        None, description="a cloze note: `The {{c1::mitochondrion}} makes {{c2::ATP}}`"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> CardIn:
        if self.text is None and (self.front is None or self.back is None):
            raise ValueError("send front and back, or a cloze text")
        if self.text is not None and (self.front is not None or self.back is not None):
            raise ValueError("send front and back, or a cloze text, not both")
        return self


class CardPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    front: Front | None = None
    back: Back | None = None
    text: ClozeText | None = Field(
        None, description="a cloze card's note text, for all its cards; same deletion numbers"
    )


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
    type: CardType = CardType.BASIC
    text: str | None = Field(None, description="a cloze card: its note's text, `{{c1::...}}`")
    cloze_ordinal: int | None = Field(
        None, description="a cloze card: the deletion number it asks for (N of cN)"
    )
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
    leech: bool = Field(
        False,
        description="failed often: 4 or more lapses (Again on a card in review) since its last "
        "accepted rewrite; POST /cards/{id}/rewrite proposes a clearer card",
    )
    suspended: bool
    retired_reason: str | None = Field(
        None, description="why the service suspended it for good (split by a rewrite)"
    )
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
