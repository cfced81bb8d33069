"""The rewrite service as a FastAPI dependency (one instance, made by the app's lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from srs.rewrites.service import RewriteService


async def get_rewrites(request: Request) -> RewriteService:
    return request.app.state.rewrites


Rewrites = Annotated[RewriteService, Depends(get_rewrites)]
