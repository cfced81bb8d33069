"""The measured inputs of the refill policy (refill.py): how fast the provider writes cards,
how fast this learner answers them, how much of the quota is left; and, from the same
measurements, when a learner who ran out of cards will get the next one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.generation import refill, repository
from srs.generation.models import GenerationJob, JobStatus
from srs.kit.settings import Settings
from srs.metering import service as metering
from srs.study import service as study
from srs.topics.models import Topic

RATE_BATCHES = 10  # the newest finished batches that make the provider's measured speed


def batch_timings(session: Session) -> list[refill.BatchTiming]:
    """The provider's newest finished batches, oldest first."""
    return timings_of(repository.recent_batch_timings(session, RATE_BATCHES))


def timings_of(rows: list[tuple[datetime, datetime, datetime, int]]) -> list[refill.BatchTiming]:
    """Rows of `repository.recent_batch_timings` (newest first) as timings, oldest first."""
    return [
        refill.BatchTiming(
            first_card=max(0.0, (first - started).total_seconds()),
            per_card=(last - first).total_seconds() / (cards - 1) if cards > 1 else None,
        )
        for started, first, last, cards in reversed(rows)  # oldest first
    ]


def provider_rate(session: Session) -> refill.CardRate:
    return refill.card_rate(batch_timings(session))


def refill_plan(session: Session, settings: Settings, topic: Topic, now: datetime) -> refill.Refill:
    """When this topic asks for its next batch, and how many cards it asks for (the first
    batch of a topic too: no pace is known then, refill.py plans for a brisk learner)."""
    times = study.recent_review_times(session, topic.id)
    user = session.get(User, topic.user_id)
    quota_left = metering.quota(session, settings, user, now).remaining if user else 0
    return refill.plan_from(
        batch_timings(session),
        [t.timestamp() for t in times],
        batch_size=settings.batch_size,
        floor=settings.refill_below,
        max_unseen=settings.max_unseen,
        quota_left=quota_left,
        prior=refill.UNMEASURED if settings.llm_provider == "local" else refill.HOSTED,
    )


def planned_refill(
    session: Session,
    settings: Settings,
    topic: Topic,
    now: datetime,
    unseen: int,
    batches: list[refill.BatchTiming],
    recent_answers: Sequence[datetime] | None = None,
) -> refill.Refill | None:
    """The refill plan if it asks for a batch with `unseen` cards left, else None: the one the
    full plan gives, with each input read only if it can still change that. `batches`: the
    provider's (batch_timings). The learner's pace (`recent_answers`, the topic's latest answer
    times, read here unless given) is not looked at when no pace could bring the refill point
    up to `unseen` (refill.highest_point_at); the quota is read only when the plan without it
    asks for a batch: a quota only lowers the point, so it can only turn a batch down."""
    prior = refill.UNMEASURED if settings.llm_provider == "local" else refill.HOSTED
    rate = refill.card_rate(batches, prior)
    highest = refill.highest_point_at(
        rate,
        batch_size=settings.batch_size,
        floor=settings.refill_below,
        max_unseen=settings.max_unseen,
    )
    if unseen >= highest:
        return None
    if recent_answers is None:
        recent_answers = study.recent_review_times(session, topic.id)
    times = [t.timestamp() for t in recent_answers]

    def plan(quota_left: int | None) -> refill.Refill:
        return refill.plan(
            refill.RefillInputs(
                rate=rate,
                learner_pace=refill.learner_pace(times),
                batch_size=settings.batch_size,
                floor=settings.refill_below,
                max_unseen=settings.max_unseen,
                quota_left=quota_left,
            )
        )

    if not refill.wants_batch(unseen, plan(None), settings.refill_below):
        return None
    user = session.get(User, topic.user_id)
    planned = plan(metering.quota(session, settings, user, now).remaining if user else 0)
    return planned if refill.wants_batch(unseen, planned, settings.refill_below) else None


def eta_seconds(session: Session, job: GenerationJob | None, now: datetime) -> int | None:
    """Seconds until the next card of the topic's active `job` is expected; None with no batch
    under way."""
    if job is None:
        return None
    rate = provider_rate(session)
    if job.status != JobStatus.RUNNING or job.started_at is None:
        return refill.eta_seconds(rate, seconds_since_start=None, seconds_since_last_card=None)
    last = repository.last_card_time(session, job.id) if job.saved else None
    return refill.eta_seconds(
        rate,
        seconds_since_start=(now - job.started_at).total_seconds(),
        seconds_since_last_card=(now - last).total_seconds() if last else None,
    )
