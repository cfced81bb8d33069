"""Every query of the generation queue. Claiming is one conditional UPDATE that works on both
databases: FOR UPDATE SKIP LOCKED on PostgreSQL, the single writer lock on SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from srs.generation.models import GenerationJob
from srs.topics.models import Card, Topic

ACTIVE = ("queued", "running")


def active_job(session: Session, topic_id: int) -> GenerationJob | None:
    return session.scalar(
        select(GenerationJob)
        .where(GenerationJob.topic_id == topic_id, GenerationJob.status.in_(ACTIVE))
        .order_by(GenerationJob.id)
        .limit(1)
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


def unseen_cards(session: Session, topic_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Card)
            .where(Card.topic_id == topic_id, Card.last_review.is_(None), Card.suspended.is_(False))
        )
        or 0
    )


def add_job(session: Session, job: GenerationJob) -> GenerationJob:
    session.add(job)
    session.flush()
    return job


def claim_next(session: Session, owner: str, now: datetime, lease: timedelta) -> int | None:
    candidate = (
        select(GenerationJob.id)
        .where(GenerationJob.status == "queued", GenerationJob.run_after <= now)
        .order_by(GenerationJob.run_after, GenerationJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(GenerationJob)
        .where(GenerationJob.id == candidate, GenerationJob.status == "queued")
        .values(
            status="running",
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
        GenerationJob.status == "running",
    )


def renew_lease(session: Session, job_id: int, owner: str, expires: datetime) -> bool:
    result = session.execute(
        update(GenerationJob).where(*_owned(job_id, owner)).values(lease_expires_at=expires)
    )
    return result.rowcount == 1


def take_ordinal(session: Session, job_id: int, owner: str, expires: datetime) -> int | None:
    """Take the next card ordinal of a job we still hold, spending one card of its quota
    reservation; None when the lease was lost (or, never expected, the reservation is spent)."""
    ordinal = session.execute(
        update(GenerationJob)
        .where(*_owned(job_id, owner), GenerationJob.reserved > 0)
        .values(
            saved=GenerationJob.saved + 1,
            next_ordinal=GenerationJob.next_ordinal + 1,
            reserved=GenerationJob.reserved - 1,
            lease_expires_at=expires,
        )
        .returning(GenerationJob.next_ordinal)
    ).scalar()
    return None if ordinal is None else ordinal - 1


def hold(session: Session, job_id: int, amount: int, period_start: datetime) -> None:
    session.execute(
        update(GenerationJob)
        .where(GenerationJob.id == job_id)
        .values(reserved=GenerationJob.reserved + amount, reserved_period=period_start)
    )


def drop_reservation(session: Session, job_id: int, seen: int) -> bool:
    """Zero a job's reservation if it still holds `seen`: whoever succeeds gives it back, once."""
    result = session.execute(
        update(GenerationJob)
        .where(
            GenerationJob.id == job_id, GenerationJob.reserved == seen, GenerationJob.reserved > 0
        )
        .values(reserved=0)
    )
    return result.rowcount == 1


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
            .where(GenerationJob.status == "running", GenerationJob.lease_expires_at < now)
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
                Topic.generation_status == "idle",
                Topic.id.not_in(busy),
            )
        )
    )


def topics_over_quota(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).where(Topic.generation_status == "quota_exceeded")))


def queue_depth(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(GenerationJob).where(GenerationJob.status == "queued")
        )
        or 0
    )


def recent_batch_timings(session: Session, limit: int) -> list[tuple[datetime, datetime, datetime, int]]:
    """(started, first card, last card, cards) of the newest batches that finished in one
    attempt with a card saved, newest first: the provider's measured speed."""
    recent = (
        select(GenerationJob.id)
        .where(
            GenerationJob.status == "done",
            GenerationJob.attempts == 1,
            GenerationJob.saved > 0,
            GenerationJob.started_at.is_not(None),
        )
        .order_by(GenerationJob.id.desc())
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(
            GenerationJob.started_at,
            func.min(Card.created_at),
            func.max(Card.created_at),
            func.count(Card.id),
        )
        .join(Card, Card.job_id == GenerationJob.id)
        .where(GenerationJob.id.in_(select(recent.c.id)))
        .group_by(GenerationJob.id, GenerationJob.started_at)
        .order_by(GenerationJob.id.desc())
    )
    return [(row[0], row[1], row[2], int(row[3])) for row in rows]


def last_card_time(session: Session, job_id: int) -> datetime | None:
    return session.scalar(select(func.max(Card.created_at)).where(Card.job_id == job_id))
