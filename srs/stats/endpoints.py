from __future__ import annotations

from fastapi import APIRouter, Query

from srs.accounts.dependencies import CurrentUser
from srs.kit.deps import DbSession
from srs.stats import service
from srs.stats.schemas import StatsOut

router = APIRouter(tags=["stats"])


@router.get("/stats", response_model=StatsOut)
def get_stats(
    user: CurrentUser,
    db: DbSession,
    days: int = Query(30, ge=1, le=365, description="how many days of history, ending today"),
    topic_id: int | None = Query(
        None, ge=1, le=2_147_483_647, description="one topic only; all topics when absent"
    ),
) -> StatsOut:
    """Reviews, first-attempt success and retention per day in the learner's time zone, and
    how many cards fall due on each of the next 30 days (overdue cards count today)."""
    return service.stats(db, user, days, topic_id)
