"""What the study endpoints are given: the hook run after a review, and the long-polls' wake-ups.

Study does not import generation: the app's generation service is handed over here as the
`AfterReview` protocol that study's service declares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from srs.kit.events import TopicEvents
from srs.study.service import AfterReview


async def get_after_review(request: Request) -> AfterReview:
    return request.app.state.generation


async def get_events(request: Request) -> TopicEvents:
    return request.app.state.events


AfterReviewHook = Annotated[AfterReview, Depends(get_after_review)]
Events = Annotated[TopicEvents, Depends(get_events)]
