"""The generation service as a FastAPI dependency (one instance, made by the app's lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from srs.generation.service import GenerationService


async def get_generation(request: Request) -> GenerationService:
    return request.app.state.generation


Generation = Annotated[GenerationService, Depends(get_generation)]
