"""Every query of the generation queue. Claiming is one conditional UPDATE that works on both
databases: FOR UPDATE SKIP LOCKED on PostgreSQL, the single writer lock on SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, select, true, update
from sqlalchemy.orm import Session, aliased

from srs.generation.models import (
    CardEmbedding,
    DuplicateRejection,
    GenerationJob,
    HeldCard,
    JobKind,
    JobStatus,
)
from srs.topics.models import Card, GenerationStatus, Topic, TopicCardCount

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


def has_jobs(session: Session, topic_id: int) -> bool:
    return (
        session.scalar(select(GenerationJob.id).where(GenerationJob.topic_id == topic_id).limit(1))
        is not None
    )


def active_job(session: Session, topic_id: int) -> GenerationJob | None:
    return session.scalar(
        select(GenerationJob)
        .where(GenerationJob.topic_id == topic_id, GenerationJob.status.in_(ACTIVE))
        .order_by(GenerationJob.id)
        .limit(1)
    )


def queued_jobs(session: Session, topic_id: int) -> list[GenerationJob]:
    """A topic's jobs no worker holds yet (locked: a worker claiming one waits, then skips it)."""
    return list(
        session.scalars(
            select(GenerationJob)
            .where(GenerationJob.topic_id == topic_id, GenerationJob.status == JobStatus.QUEUED)
            .with_for_update()
        )
    )


def cards_in_flight(session: Session, topic_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(GenerationJob.requested - GenerationJob.saved), 0)).where(
                GenerationJob.topic_id == topic_id, GenerationJob.status.in_(ACTIVE)
            )
        )
        or 0
    )


def active_jobs(session: Session, topic_ids: list[int]) -> dict[int, GenerationJob]:
    """The active job of each topic that has one, for many topics in one statement."""
    jobs = session.scalars(_active_jobs_statement(), {"topic_ids": topic_ids})
    return {job.topic_id: job for job in jobs}


@cache
def _active_jobs_statement() -> Select:
    """Built once: every study step whose topic does not generate now reads it, and building
    it (the two IN lists) cost more than running it (py-spy, docs/benchmarks.md, session 15)."""
    return select(GenerationJob).where(
        GenerationJob.topic_id.in_(bindparam("topic_ids", expanding=True)),
        GenerationJob.status.in_(ACTIVE),
    )


@cache
def _activity_statement() -> Select:
    """The topic's active job and unseen count, in one statement: at most one job per topic is
    active (uq_generation_jobs_active_topic). Built once: building took longer than running."""
    unseen = (
        select(TopicCardCount.unseen).where(TopicCardCount.topic_id == Topic.id).scalar_subquery()
    )
    return (
        select(GenerationJob, unseen)
        .select_from(Topic)
        .outerjoin(
            GenerationJob,
            and_(GenerationJob.topic_id == Topic.id, GenerationJob.status.in_(ACTIVE)),
        )
        .where(Topic.id == bindparam("topic_id"))
    )


def unseen_cards(session: Session, topic_id: int) -> int:
    """Unseen cards not suspended, from the count the triggers on `cards` keep (0011)."""
    return int(
        session.scalar(select(TopicCardCount.unseen).where(TopicCardCount.topic_id == topic_id))
        or 0
    )


def add_job(session: Session, job: GenerationJob) -> GenerationJob:
    session.add(job)
    session.flush()
    return job


# Held for the length of a claim's transaction on PostgreSQL (an arbitrary, fixed key).
CLAIM_LOCK = 7_301_013


def claim_next(session: Session, owner: str, now: datetime, lease: timedelta) -> int | None:
    """The oldest due job of a learner who has none running, now ours; None when there is none.

    At most one job per learner runs at a time, in all processes together: a learner's many
    topics (or an abuser's stalled streams) hold one worker slot, never all of them. Claims
    take turns on PostgreSQL (a transaction-scoped advisory lock, so the check sees every claim
    committed before it); on SQLite the write lock does the same."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
    running = aliased(GenerationJob)
    learner_busy = (
        select(running.id)
        .where(running.user_id == GenerationJob.user_id, running.status == JobStatus.RUNNING)
        .exists()
    )
    candidate = (
        select(GenerationJob.id)
        .where(
            GenerationJob.status == JobStatus.QUEUED, GenerationJob.run_after <= now, ~learner_busy
        )
        # First attempts before retries: a job that failed (a provider that stalled, say) and
        # came due again does not take the slot back ahead of a learner still waiting.
        .order_by(GenerationJob.attempts > 0, GenerationJob.run_after, GenerationJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(GenerationJob)
        .where(GenerationJob.id == candidate, GenerationJob.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=GenerationJob.attempts + 1,
            started_at=func.coalesce(GenerationJob.started_at, now),
        )
        .returning(GenerationJob.id)
    ).scalar()
    return claimed


def _owned(job_id: int, owner: str):
    return (
        GenerationJob.id == job_id,
        GenerationJob.lease_owner == owner,
        GenerationJob.status == JobStatus.RUNNING,
    )


def renew_lease(session: Session, job_id: int, owner: str, expires: datetime) -> bool:
    result = session.execute(
        update(GenerationJob).where(*_owned(job_id, owner)).values(lease_expires_at=expires)
    )
    return result.rowcount == 1


def take_ordinal(session: Session, job_id: int, owner: str, expires: datetime) -> int | None:
    """Take the next card ordinal of a job we still hold; None when the lease was lost."""
    ordinal = session.execute(
        update(GenerationJob)
        .where(*_owned(job_id, owner))
        .values(
            saved=GenerationJob.saved + 1,
            next_ordinal=GenerationJob.next_ordinal + 1,
            lease_expires_at=expires,
        )
        .returning(GenerationJob.next_ordinal)
    ).scalar()
    return None if ordinal is None else ordinal - 1


def lock_topic_jobs(session: Session, topic_id: int) -> None:
    session.execute(
        select(GenerationJob.id).where(GenerationJob.topic_id == topic_id).with_for_update()
    ).all()


def count_rejects(session: Session, job_id: int, owner: str, duplicates: int, invalid: int) -> bool:
    result = session.execute(
        update(GenerationJob)
        .where(*_owned(job_id, owner))
        .values(
            duplicates=GenerationJob.duplicates + duplicates,
            invalid=GenerationJob.invalid + invalid,
        )
    )
    return result.rowcount == 1


def get_job(session: Session, job_id: int, *, lock: bool = False) -> GenerationJob | None:
    query = select(GenerationJob).where(GenerationJob.id == job_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def get_owned_job(session: Session, job_id: int, owner: str) -> GenerationJob | None:
    return session.scalar(select(GenerationJob).where(*_owned(job_id, owner)).with_for_update())


def expired_jobs(session: Session, now: datetime) -> list[GenerationJob]:
    return list(
        session.scalars(
            select(GenerationJob)
            .where(GenerationJob.status == JobStatus.RUNNING, GenerationJob.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        )
    )


def topics_to_refill(session: Session, studied_since: datetime) -> list[int]:
    """Topics studied lately, with no job in flight and not stopped by a failure."""
    busy = select(GenerationJob.topic_id).where(GenerationJob.status.in_(ACTIVE))
    return list(
        session.scalars(
            select(Topic.id).where(
                Topic.last_studied_at >= studied_since,
                Topic.generation_status == GenerationStatus.IDLE,
                Topic.id.not_in(busy),
            )
        )
    )


def topics_over_quota(session: Session) -> list[Topic]:
    return list(
        session.scalars(
            select(Topic).where(Topic.generation_status == GenerationStatus.QUOTA_EXCEEDED)
        )
    )


def queue_depth(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(GenerationJob)
            .where(GenerationJob.status == JobStatus.QUEUED)
        )
        or 0
    )


# -- dedup: stored vectors and recorded rejections ----------------------------------------


def cards_for_dedup(
    session: Session, topic_id: int, model: str
) -> list[tuple[int, str, str, CardEmbedding | None]]:
    """Every card of the topic with its stored vectors of `model` (None when missing)."""
    query = (
        select(Card.id, Card.front, Card.back, CardEmbedding)
        .outerjoin(
            CardEmbedding, and_(CardEmbedding.card_id == Card.id, CardEmbedding.model == model)
        )
        .where(Card.topic_id == topic_id)
        .order_by(Card.id)
    )
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(query)]


def job_card_ids(session: Session, job_id: int) -> frozenset[int]:
    """The cards a job has saved (in its earlier attempts, when it is being retried)."""
    return frozenset(session.scalars(select(Card.id).where(Card.job_id == job_id)))


def store_embeddings(session: Session, rows: list[CardEmbedding]) -> None:
    """Insert or replace (a vector of another model is replaced); cards deleted meanwhile
    are skipped."""
    alive = set(session.scalars(select(Card.id).where(Card.id.in_([row.card_id for row in rows]))))
    for row in rows:
        if row.card_id in alive:
            session.merge(row)
    session.flush()


def add_rejection(session: Session, row: DuplicateRejection) -> None:
    session.add(row)
    session.flush()


def topic_rejections(
    session: Session, topic_id: int, limit: int, before_id: int | None
) -> list[tuple[DuplicateRejection, Card | None]]:
    """Newest first; the matched card is None once it was deleted."""
    query = (
        select(DuplicateRejection, Card)
        .outerjoin(Card, Card.id == DuplicateRejection.matched_card_id)
        .where(DuplicateRejection.topic_id == topic_id)
        .order_by(DuplicateRejection.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(DuplicateRejection.id < before_id)
    return [(row[0], row[1]) for row in session.execute(query)]


def card_batch_done(session: Session, topic_id: int) -> bool:
    """Whether a card batch of the topic has ever run to its end."""
    done = select(GenerationJob.id).where(
        GenerationJob.topic_id == topic_id,
        GenerationJob.kind == JobKind.CARDS.value,
        GenerationJob.status == JobStatus.DONE,
    )
    return session.scalar(done.limit(1)) is not None


def exhausted_subtopics(session: Session, topic_id: int, jobs_read: int) -> frozenset[int]:
    """The subtopics whose latest finished card batch (of the topic's `jobs_read` newest jobs)
    added no card, or dropped as many repeats as it added cards: the model has run dry there."""
    rows = session.execute(
        select(GenerationJob.subtopic_id, GenerationJob.saved, GenerationJob.duplicates)
        .where(
            GenerationJob.topic_id == topic_id,
            GenerationJob.kind == JobKind.CARDS.value,
            GenerationJob.status == JobStatus.DONE,
            GenerationJob.subtopic_id.is_not(None),
        )
        .order_by(GenerationJob.id.desc())
        .limit(jobs_read)
    )
    latest: dict[int, tuple[int, int]] = {}
    for subtopic_id, saved, duplicates in rows:
        latest.setdefault(subtopic_id, (saved, duplicates))
    return frozenset(
        subtopic_id
        for subtopic_id, (saved, duplicates) in latest.items()
        if saved == 0 or duplicates >= saved
    )


def recent_job_kinds(session: Session, topic_id: int, limit: int) -> list[str]:
    """The kinds of the topic's latest jobs, newest first."""
    return list(
        session.scalars(
            select(GenerationJob.kind)
            .where(GenerationJob.topic_id == topic_id)
            .order_by(GenerationJob.id.desc())
            .limit(limit)
        )
    )


def _batch_timings(limit: int) -> Select:
    """(job id, started, first card, last card, cards) of the newest batches that finished in
    one attempt with a card saved: the provider's measured speed."""
    recent = (
        select(GenerationJob.id)
        .where(
            GenerationJob.status == JobStatus.DONE,
            GenerationJob.attempts == 1,
            GenerationJob.saved > 0,
            GenerationJob.started_at.is_not(None),
        )
        .order_by(GenerationJob.id.desc())
        .limit(limit)
        .subquery()
    )
    return (
        select(
            GenerationJob.id.label("job_id"),
            GenerationJob.started_at.label("started_at"),
            func.min(Card.created_at).label("first_card"),
            func.max(Card.created_at).label("last_card"),
            func.count(Card.id).label("cards"),
        )
        .join(Card, Card.job_id == GenerationJob.id)
        .where(GenerationJob.id.in_(select(recent.c.id)))
        .group_by(GenerationJob.id, GenerationJob.started_at)
    )


def recent_batch_timings(
    session: Session, limit: int
) -> list[tuple[datetime, datetime, datetime, int]]:
    """(started, first card, last card, cards) of the newest batches that finished in one
    attempt with a card saved, newest first: the provider's measured speed."""
    rows = session.execute(_batch_timings(limit).order_by(GenerationJob.id.desc()))
    return [(row[1], row[2], row[3], int(row[4])) for row in rows]


def activity_and_timings(
    session: Session, topic_id: int, limit: int
) -> tuple[GenerationJob | None, int, list[tuple[datetime, datetime, datetime, int]]]:
    """`activity` and `recent_batch_timings` in one statement (the buffer check needs both
    unless a batch is under way): one row per timed batch, newest first, each carrying the
    topic's job and unseen count; one row with no timing when none finished yet."""
    rows = session.execute(_activity_and_timings_statement(limit), {"topic_id": topic_id}).all()
    if not rows:
        return None, 0, []
    measured = [(r[2], r[3], r[4], int(r[5])) for r in rows if r[2] is not None]
    return rows[0][0], int(rows[0][1] or 0), measured


@cache
def _activity_and_timings_statement(limit: int) -> Select:
    timings = _batch_timings(limit).subquery("timings")
    activity = _activity_statement()
    return (
        activity.add_columns(
            timings.c.started_at,
            timings.c.first_card,
            timings.c.last_card,
            timings.c.cards,
        )
        .outerjoin(timings, true())
        .order_by(timings.c.job_id.desc())
    )


def last_card_time(session: Session, job_id: int) -> datetime | None:
    return session.scalar(select(func.max(Card.created_at)).where(Card.job_id == job_id))


# -- held-back cards (the verification pass) ---------------------------------------------------


def add_held(session: Session, held: HeldCard) -> None:
    session.add(held)
    session.flush()


def topic_held(session: Session, topic_id: int, limit: int, before: int | None) -> list[HeldCard]:
    query = select(HeldCard).where(HeldCard.topic_id == topic_id)
    if before is not None:
        query = query.where(HeldCard.id < before)
    return list(session.scalars(query.order_by(HeldCard.id.desc()).limit(limit)))


def held_texts(session: Session, topic_id: int, limit: int) -> list[tuple[str, str]]:
    """(front, back) of the topic's newest held-back cards."""
    query = select(HeldCard.front, HeldCard.back).where(HeldCard.topic_id == topic_id)
    return _texts(session, query, limit)


def part_held_texts(
    session: Session, topic_id: int, subtopic_id: int | None, limit: int
) -> list[tuple[str, str]]:
    """(front, back) of the newest held-back cards of one subtopic (None: of no subtopic)."""
    part = (
        HeldCard.subtopic_id.is_(None)
        if subtopic_id is None
        else HeldCard.subtopic_id == subtopic_id
    )
    query = select(HeldCard.front, HeldCard.back).where(HeldCard.topic_id == topic_id, part)
    return _texts(session, query, limit)


def _texts(session: Session, query: Select, limit: int) -> list[tuple[str, str]]:
    rows = session.execute(query.order_by(HeldCard.id.desc()).limit(limit))
    return [(front, back) for front, back in rows]


def user_held(session: Session, user_id: int) -> list[HeldCard]:
    query = select(HeldCard).where(HeldCard.user_id == user_id).order_by(HeldCard.id)
    return list(session.scalars(query))


def get_held(session: Session, user_id: int, held_id: int) -> HeldCard | None:
    return session.scalar(
        select(HeldCard)
        .where(HeldCard.id == held_id, HeldCard.user_id == user_id)
        .with_for_update()
    )


def delete_held(session: Session, held: HeldCard) -> None:
    session.delete(held)
    session.flush()
