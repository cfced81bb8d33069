"""The sources service as a FastAPI dependency (one instance, made by the app's lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from srs.sources.service import SourceService


async def get_sources(request: Request) -> SourceService:
    return request.app.state.sources


Sources = Annotated[SourceService, Depends(get_sources)]
