from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from srs.outline.models import NAME_CHARS, SCOPE_CHARS

# An outline may grow past the first 8-20 subtopics as extensions add deeper ones.
MAX_SUBTOPICS = 100

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_CHARS)]
Scope = Annotated[str, StringConstraints(strip_whitespace=True, max_length=SCOPE_CHARS)]


class SubtopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int | None = Field(None, description="an existing subtopic to keep (renamed if changed)")
    name: Name
    scope: Scope = ""


class OutlineIn(BaseModel):
    """The whole outline, in order: listed ids are kept, new entries added, the rest removed
    (their cards stay, with no subtopic)."""

    model_config = ConfigDict(extra="forbid")
    subtopics: list[SubtopicIn] = Field(min_length=1, max_length=MAX_SUBTOPICS)


class SubtopicRef(BaseModel):
    id: int
    name: str


class SubtopicOut(SubtopicRef):
    scope: str
    cards: int = Field(description="cards of the topic written for this subtopic")


class OutlineOut(BaseModel):
    subtopics: list[SubtopicOut]
