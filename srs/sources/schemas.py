from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from srs.kit.text import refuse_control_characters
from srs.sources.models import SourceStatus

SourceTitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(refuse_control_characters),
]


class SourceIn(BaseModel):
    """Pasted text or a URL (a file comes as multipart form data instead)."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(min_length=1)] | None = None
    url: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
        | None
    ) = None
    title: SourceTitle | None = None

    @model_validator(mode="after")
    def _one(self) -> SourceIn:
        if (self.text is None) == (self.url is None):
            raise ValueError("give either text or url (or upload a file)")
        if self.text is not None and not self.text.strip():
            raise ValueError("text is empty")
        return self


class SourceOut(BaseModel):
    id: int
    topic_id: int
    kind: Literal["text", "file", "url"]
    format: Literal["plain", "markdown", "html", "pdf", "epub"] | None
    title: str
    url: str | None
    status: SourceStatus
    progress: float = Field(description="0 to 1 while extracting")
    error: str | None
    size_bytes: int
    pages: int | None
    passages: int = Field(description="passages the source was split into")
    covered: int = Field(description="passages that card batches have worked through")
    created_at: datetime
    finished_at: datetime | None


class SourceList(BaseModel):
    items: list[SourceOut]


class PassageOut(BaseModel):
    id: int
    source_id: int
    position: int
    label: str = Field(description='e.g. "Chapter 3, p. 41"')
    section: str | None
    page: int | None
    start: int = Field(description="character offsets in the source's extracted text")
    end: int
    covered: bool
    text: str


class PassageList(BaseModel):
    items: list[PassageOut]


class QuoteOut(BaseModel):
    text: str
    start: int = Field(description="offsets in the passage's text")
    end: int


class CardPassageOut(BaseModel):
    card_id: int
    source_title: str
    passage: PassageOut
    quote: QuoteOut


class CitationRef(BaseModel):
    """Where a grounded card comes from (on every card; null for other cards)."""

    id: int = Field(description="the passage's id: GET /cards/{card_id}/passage shows it")
    source_id: int
    label: str
    page: int | None
    section: str | None
    quote: str
