from __future__ import annotations

from fastapi import APIRouter

from srs.accounts.dependencies import CurrentUser
from srs.kit.deps import DbSession, RowId
from srs.outline import service
from srs.outline.schemas import OutlineIn, OutlineOut

router = APIRouter(tags=["outline"])


@router.get("/topics/{topic_id}/outline", response_model=OutlineOut)
def get_outline(topic_id: RowId, user: CurrentUser, db: DbSession) -> OutlineOut:
    """The subtopics the topic's batches are spread over, with their card counts."""
    return service.get_outline(db, user, topic_id)


@router.put("/topics/{topic_id}/outline", response_model=OutlineOut)
def replace_outline(
    topic_id: RowId, body: OutlineIn, user: CurrentUser, db: DbSession
) -> OutlineOut:
    """Rename, reorder, add or remove subtopics: send the whole outline as it should be."""
    return service.replace_outline(db, user, topic_id, body)
