from __future__ import annotations


from fastapi import APIRouter, Response

from srs.accounts.dependencies import CurrentUser
from srs.exports import service
from srs.kit.deps import DbSession, RowId
from srs.topics import service as topics

router = APIRouter(tags=["exports"])

# Ids are 32-bit integers in the database: a larger one is bad input (422), never a 500.
TopicId = RowId


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/topics/{topic_id}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the topic's cards as CSV"}},
)
def export_csv(topic_id: TopicId, user: CurrentUser, db: DbSession) -> Response:
    """Columns: front, back, state, due (ISO 8601, UTC), reps, lapses, level, model."""
    topic = topics.get_topic(db, user, topic_id)
    body = service.cards_csv(topics.topic_cards(db, topic))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=_attachment(service.filename(topic, "csv")),
    )


@router.get(
    "/topics/{topic_id}/export.apkg",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "an Anki package with one deck; the deck id is stable per topic",
        }
    },
)
def export_apkg(topic_id: TopicId, user: CurrentUser, db: DbSession) -> Response:
    topic = topics.get_topic(db, user, topic_id)
    body = service.cards_apkg(topic, topics.topic_cards(db, topic))
    return Response(
        body,
        media_type="application/octet-stream",
        headers=_attachment(service.filename(topic, "apkg")),
    )
