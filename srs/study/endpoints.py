from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from srs.accounts import service as accounts
from srs.accounts.dependencies import CurrentUser, Presented, PresentedToken, get_caller
from srs.accounts.models import User
from srs.kit import metrics
from srs.kit.db import Database, utcnow
from srs.kit.deps import AppDatabase, AppSettings, DbSession, RowId, in_transaction
from srs.kit.events import TopicEvents
from srs.kit.settings import Settings
from srs.study import service
from srs.study.dependencies import AfterReviewHook, Events
from srs.study.schemas import NextOut, ReviewIn, ReviewOut
from srs.study.service import AfterReview
from srs.topics import service as topics
from srs.topics import views
from srs.topics.models import GenerationStatus, Topic
from srs.topics.schemas import CardOut, FlagIn

router = APIRouter(tags=["study"])

_ACTIVE = {GenerationStatus.QUEUED, GenerationStatus.RUNNING}


def _next_answer(
    session: Session, settings: Settings, user_id: int, topic_id: int
) -> tuple[NextOut, datetime]:
    """A long-poll's re-read: the caller was authenticated by its first read."""
    user = accounts.user_still_present(session, user_id)
    return _next_out(session, user, topics.get_topic(session, user, topic_id), settings)


def _first_answer(
    session: Session, request: Request, settings: Settings, topic_id: int
) -> tuple[int, NextOut, datetime]:
    """The caller, their ownership of the topic (404 otherwise) and the answer, in one read
    transaction. Only after it may a long-poll hold a wake-up entry for the topic."""
    user = get_caller(request, session, settings).user
    answer, now = _next_out(session, user, topics.get_topic(session, user, topic_id), settings)
    return user.id, answer, now


def _next_out(
    session: Session, user: User, topic: Topic, settings: Settings, seen: Any = None
) -> tuple[NextOut, datetime]:
    now = utcnow()
    new_per_day = accounts.new_cards_per_day(user, settings)
    return views.next_out(session, user, topic, now, new_per_day, seen), now


def _answered(answer: NextOut, now: datetime, remaining: float) -> bool:
    """Whether a long-poll answers now: a card is ready, the wait is over, or nothing can
    arrive before it is (no batch under way and nothing falls due in time)."""
    if answer.card is not None or remaining <= 0:
        return True
    if answer.generation.status in _ACTIVE:
        return False
    return answer.next_due is None or (answer.next_due - now).total_seconds() > remaining


@router.get("/topics/{topic_id}/next", response_model=NextOut)
async def next_card(
    topic_id: RowId,
    request: Request,
    db: AppDatabase,
    settings: AppSettings,
    events: Events,
    wait: float = Query(0, ge=0, le=30, description="seconds to long-poll for a card"),
    changes: bool = Query(
        False, description="with wait: also answer when the generation state changes"
    ),
) -> NextOut:
    """The next card to study. With `wait`, holds the request until a card is ready (a
    generated card arrives, or a learning card falls due) or the wait is over. No database
    session is held while waiting."""
    # The cap is first checked per token, before routing (srs.study.gate): a flood of polls
    # is refused without costing the event loop or the threadpool everyone else needs.
    places = settings.long_polls_per_user if wait > 0 else None
    return await _next_waiting(request, db, settings, events, topic_id, wait, changes, places)


async def _next_waiting(
    request: Request,
    db: Database,
    settings: Settings,
    events: TopicEvents,
    topic_id: int,
    wait: float,
    changes: bool,
    places: int | None,
) -> NextOut:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    user_id, answer, now = await db.run(_first_answer, request, settings, topic_id, write=False)
    if _answered(answer, now, deadline - loop.time()):
        return answer  # the usual study step: one transaction
    first = answer.generation
    with events.polling(user_id, places), events.watching(topic_id):
        while True:
            # Read again once watching: a card saved since the first read is not missed.
            wake = events.current(topic_id)
            answer, now = await db.run(_next_answer, settings, user_id, topic_id, write=False)
            remaining = deadline - loop.time()
            if answer.card is not None or remaining <= 0:
                return answer
            if changes and answer.generation != first:
                return answer  # the generation moved on (the outline done, a batch started)
            poll = events.poll_seconds
            pause = min(remaining, poll)
            if answer.generation.status not in _ACTIVE:
                if _answered(answer, now, remaining):
                    return answer  # nothing can arrive before the wait is over
                pause = min(pause, max(0.01, (answer.next_due - now).total_seconds()))
            woken = await events.wait(wake, pause)
            if not woken and pause == poll:
                metrics.LONG_POLL_REREADS.labels("safety" if events.listening else "fallback").inc()


@router.post("/cards/{card_id}/review", response_model=ReviewOut)
async def review_card(
    card_id: RowId,
    body: ReviewIn,
    request: Request,
    presented: Presented,
    after_review: AfterReviewHook,
    settings: AppSettings,
    include_next: bool = Query(
        False, alias="next", description="also answer with the topic's next card (one round trip)"
    ),
) -> ReviewOut:
    """Answer a card. A repeated `review_id` returns the first result and reviews nothing."""
    # The caller, the answer and the next card in one transaction and one threadpool hop (as
    # dependencies, the session, the caller and the handler were a hop each, and a hop is CPU
    # on the event loop's thread and a wait for the GIL: measured in docs/benchmarks.md).
    return await in_transaction(
        request, _review, presented, settings, card_id, body, after_review, include_next
    )


def _review(
    session: Session,
    presented: PresentedToken,
    settings: Settings,
    card_id: int,
    body: ReviewIn,
    after_review: AfterReview,
    include_next: bool,
) -> ReviewOut:
    user = presented.caller(session).user
    answer = service.answer(
        session, user, card_id, body.rating, body.duration_ms, body.review_id, after_review
    )
    out = ReviewOut(card=views.card_out(answer.card))
    if include_next:
        out.next, _now = _next_out(session, user, answer.topic, settings, answer.generation)
    return out


@router.post("/topics/{topic_id}/undo", response_model=ReviewOut)
def undo(topic_id: RowId, user: CurrentUser, db: DbSession) -> ReviewOut:
    return ReviewOut(card=views.card_out(service.undo_last(db, user, topic_id)))


@router.post("/cards/{card_id}/suspend", response_model=CardOut)
def suspend(card_id: RowId, user: CurrentUser, db: DbSession) -> CardOut:
    return views.card_out(service.set_suspended(db, user, card_id, True))


@router.post("/cards/{card_id}/unsuspend", response_model=CardOut)
def unsuspend(card_id: RowId, user: CurrentUser, db: DbSession) -> CardOut:
    return views.card_out(service.set_suspended(db, user, card_id, False))


@router.post("/cards/{card_id}/bury", response_model=CardOut)
def bury(card_id: RowId, user: CurrentUser, db: DbSession) -> CardOut:
    return views.card_out(service.bury(db, user, card_id))


@router.post("/cards/{card_id}/flag", response_model=CardOut)
def flag(
    card_id: RowId, body: FlagIn, user: CurrentUser, db: DbSession, settings: AppSettings
) -> CardOut:
    """Flag a wrong card: it leaves the study queue (suspended). A generated card may be
    refunded to the quota: see `refunds` in GET /usage for the rule and what is left."""
    return views.card_out(service.flag(db, settings, user, card_id, body.reason))


@router.post("/cards/{card_id}/unflag", response_model=CardOut)
def unflag(card_id: RowId, user: CurrentUser, db: DbSession) -> CardOut:
    """Take a flag back: the card returns to study; if it was refunded, it is billed again."""
    return views.card_out(service.unflag(db, user, card_id))
