from __future__ import annotations

from fastapi import APIRouter, Response

from srs.accounts.dependencies import CurrentUser
from srs.exports import service
from srs.kit.db import utcnow
from srs.kit.deps import DbSession, RowId
from srs.study import service as study
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
    """Anki's header lines (`#separator:Comma`, `#html:false`, `#notetype:Basic`, `#deck:`,
    `#columns:`), then one row per card, every field quoted: Front, Back, State, Due,
    Stability, Difficulty, Last review (ISO 8601, UTC), Reps, Lapses, Level, Model. A cell
    starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` so that
    spreadsheets show it as text (OWASP's advice on CSV injection)."""
    topic = topics.get_topic(db, user, topic_id)
    body = service.cards_csv(topic, topics.topic_cards(db, topic))
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
            "description": "an Anki package with one deck (its id stable per topic), each "
            "card's scheduling and FSRS memory state, and the review log",
        }
    },
)
def export_apkg(topic_id: TopicId, user: CurrentUser, db: DbSession) -> Response:
    topic = topics.get_topic(db, user, topic_id)
    cards = topics.topic_cards(db, topic)
    body = service.cards_apkg(topic, cards, study.topic_history(db, topic.id), user, utcnow())
    return Response(
        body,
        media_type="application/octet-stream",
        headers=_attachment(service.filename(topic, "apkg")),
    )
