"""Every query of metering. Counter changes are single conditional UPDATEs so concurrent
workers on either database can never push a user past the limit or count a unit twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.generation.models import GenerationJob
from srs.metering.models import ProcessedWebhookEvent, UsageCounter, UsageEvent
from srs.topics.models import Topic

ACTIVE_JOBS = ("queued", "running")
NO_SYNC = {"synchronize_session": False}


def _insert(session: Session, model) -> Insert:
    """INSERT that can say ON CONFLICT DO NOTHING on both databases."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _key(user_id: int, period_start: datetime):
    return and_(UsageCounter.user_id == user_id, UsageCounter.period_start == period_start)


# -- the ledger -------------------------------------------------------------------------------


def record(session: Session, **event) -> bool:
    """Append one event; False when its idempotency key is already in the ledger."""
    inserted = session.execute(
        _insert(session, UsageEvent)
        .values(**event)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(UsageEvent.id)
    ).scalar()
    return inserted is not None


def card_event(session: Session, job_id: int, ordinal: int) -> UsageEvent | None:
    return session.scalar(
        select(UsageEvent).where(UsageEvent.idempotency_key == f"card:{job_id}:{ordinal}")
    )


def ledger_sums(session: Session, user_id: int | None = None):
    """(user_id, period_start, cards, tokens_in, tokens_out) per period, from the ledger."""
    query = select(
        UsageEvent.user_id,
        UsageEvent.period_start,
        func.coalesce(func.sum(UsageEvent.quantity), 0).label("cards"),
        func.coalesce(func.sum(UsageEvent.tokens_in), 0).label("tokens_in"),
        func.coalesce(func.sum(UsageEvent.tokens_out), 0).label("tokens_out"),
    ).group_by(UsageEvent.user_id, UsageEvent.period_start)
    if user_id is not None:
        query = query.where(UsageEvent.user_id == user_id)
    return session.execute(query.order_by(UsageEvent.period_start.desc())).all()


def tokens_estimated(session: Session, user_id: int, period_start: datetime) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(UsageEvent)
            .where(
                UsageEvent.user_id == user_id,
                UsageEvent.period_start == period_start,
                UsageEvent.tokens_estimated.is_(True),
            )
        )
        > 0
    )


def unreported(session: Session, since: datetime, limit: int):
    """Card and credit events not yet sent to Stripe, of users Stripe knows."""
    return session.execute(
        select(UsageEvent, User.stripe_customer_id)
        .join(User, User.id == UsageEvent.user_id)
        .where(
            UsageEvent.reported_at.is_(None),
            UsageEvent.kind.in_(("card", "credit")),
            UsageEvent.created_at >= since,
            User.stripe_customer_id.is_not(None),
        )
        .order_by(UsageEvent.id)
        .limit(limit)
    ).all()


def users_unknown_to_stripe(session: Session, since: datetime) -> list[int]:
    return list(
        session.scalars(
            select(UsageEvent.user_id)
            .join(User, User.id == UsageEvent.user_id)
            .where(
                UsageEvent.reported_at.is_(None),
                UsageEvent.kind.in_(("card", "credit")),
                UsageEvent.created_at >= since,
                User.stripe_customer_id.is_(None),
            )
            .distinct()
        )
    )


def mark_reported(session: Session, event_id: int, at: datetime) -> None:
    session.execute(
        update(UsageEvent)
        .where(UsageEvent.id == event_id, UsageEvent.reported_at.is_(None))
        .values(reported_at=at)
        .execution_options(**NO_SYNC)
    )


# -- the counters -----------------------------------------------------------------------------


def ensure_counter(session: Session, user_id: int, period_start: datetime) -> None:
    """Create the period's counter row if absent; safe when two transactions race to do it."""
    session.execute(
        _insert(session, UsageCounter)
        .values(
            user_id=user_id,
            period_start=period_start,
            cards_used=0,
            cards_reserved=0,
            tokens_in=0,
            tokens_out=0,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "period_start"])
    )


def counter(session: Session, user_id: int, period_start: datetime) -> UsageCounter | None:
    return session.scalar(select(UsageCounter).where(_key(user_id, period_start)))


def all_counters(session: Session) -> list[UsageCounter]:
    return list(session.scalars(select(UsageCounter).order_by(UsageCounter.id)))


def reserve(session: Session, user_id: int, period_start: datetime, wanted: int, limit: int) -> int:
    """Hold up to `wanted` cards under `limit`; returns how many were held. The locked read
    only picks the amount; the conditional UPDATE is what guarantees the limit."""
    ensure_counter(session, user_id, period_start)
    for _ in range(5):
        used, reserved = session.execute(
            select(UsageCounter.cards_used, UsageCounter.cards_reserved)
            .where(_key(user_id, period_start))
            .with_for_update()
        ).one()
        amount = min(wanted, limit - used - reserved)
        if amount <= 0:
            return 0
        result = session.execute(
            update(UsageCounter)
            .where(
                _key(user_id, period_start),
                UsageCounter.cards_used + UsageCounter.cards_reserved + amount <= limit,
            )
            .values(cards_reserved=UsageCounter.cards_reserved + amount)
            .execution_options(**NO_SYNC)
        )
        if result.rowcount == 1:
            return amount
    return 0


def change(
    session: Session,
    user_id: int,
    period_start: datetime,
    *,
    used: int = 0,
    reserved: int = 0,
    tokens_in: int = 0,
    tokens_out: int = 0,
) -> None:
    ensure_counter(session, user_id, period_start)
    session.execute(
        update(UsageCounter)
        .where(_key(user_id, period_start))
        .values(
            cards_used=UsageCounter.cards_used + used,
            cards_reserved=UsageCounter.cards_reserved + reserved,
            tokens_in=UsageCounter.tokens_in + tokens_in,
            tokens_out=UsageCounter.tokens_out + tokens_out,
        )
        .execution_options(**NO_SYNC)
    )


def set_counter(session: Session, user_id: int, period_start: datetime, **values: int) -> None:
    ensure_counter(session, user_id, period_start)
    session.execute(
        update(UsageCounter)
        .where(_key(user_id, period_start))
        .values(**values)
        .execution_options(**NO_SYNC)
    )


def clear_orphaned_reservation(
    session: Session, user_id: int, period_start: datetime, seen: int
) -> bool:
    """Zero a period's held cards when no active job holds any (its job was deleted with its
    topic). Conditional on the value we saw, so a reservation made meanwhile is kept."""
    holders = select(GenerationJob.id).where(
        GenerationJob.user_id == user_id,
        GenerationJob.reserved_period == period_start,
        GenerationJob.reserved > 0,
    )
    result = session.execute(
        update(UsageCounter)
        .where(
            _key(user_id, period_start),
            UsageCounter.cards_reserved == seen,
            ~holders.exists(),
        )
        .values(cards_reserved=0)
        .execution_options(**NO_SYNC)
    )
    return result.rowcount == 1


def reservations(session: Session):
    """(user_id, period_start, reserved) held by queued and running jobs."""
    return session.execute(
        select(
            GenerationJob.user_id,
            GenerationJob.reserved_period,
            func.sum(GenerationJob.reserved),
        )
        .where(GenerationJob.status.in_(ACTIVE_JOBS), GenerationJob.reserved > 0)
        .group_by(GenerationJob.user_id, GenerationJob.reserved_period)
    ).all()


def drift_rows(session: Session):
    """Counters next to their ledger sums, read in one statement (one consistent snapshot)."""
    sums = (
        select(
            UsageEvent.user_id,
            UsageEvent.period_start,
            func.sum(UsageEvent.quantity).label("cards"),
            func.sum(UsageEvent.tokens_in).label("tokens_in"),
            func.sum(UsageEvent.tokens_out).label("tokens_out"),
        )
        .group_by(UsageEvent.user_id, UsageEvent.period_start)
        .subquery()
    )
    on = and_(
        sums.c.user_id == UsageCounter.user_id, sums.c.period_start == UsageCounter.period_start
    )
    drift = (
        func.abs(UsageCounter.cards_used - func.coalesce(sums.c.cards, 0))
        + func.abs(UsageCounter.tokens_in - func.coalesce(sums.c.tokens_in, 0))
        + func.abs(UsageCounter.tokens_out - func.coalesce(sums.c.tokens_out, 0))
    )
    return session.execute(
        select(
            UsageCounter.user_id,
            UsageCounter.period_start,
            UsageCounter.cards_used,
            func.coalesce(sums.c.cards, 0).label("ledger_cards"),
            drift.label("drift"),
            UsageCounter.cards_reserved,
        ).outerjoin(sums, on)
    ).all()


def periods_without_counter(session: Session) -> int:
    """Ledger periods that have no counter row at all (also drift)."""
    missing = (
        select(UsageEvent.user_id, UsageEvent.period_start)
        .outerjoin(
            UsageCounter,
            and_(
                UsageCounter.user_id == UsageEvent.user_id,
                UsageCounter.period_start == UsageEvent.period_start,
            ),
        )
        .where(UsageCounter.id.is_(None))
        .distinct()
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(missing)) or 0)


# -- users, topics, webhooks ------------------------------------------------------------------


def count_topics(session: Session, user_id: int) -> int:
    """Topics that count toward the plan: an imported topic only once it has generated."""
    generated = select(GenerationJob.topic_id).where(GenerationJob.user_id == user_id)
    counted = or_(Topic.imported.is_(False), Topic.id.in_(generated))
    return int(
        session.scalar(
            select(func.count()).select_from(Topic).where(Topic.user_id == user_id, counted)
        )
        or 0
    )


def user_by_customer(session: Session, customer_id: str, *, lock: bool = False) -> User | None:
    query = select(User).where(User.stripe_customer_id == customer_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def mark_webhook_processed(session: Session, event_id: str, event_type: str) -> bool:
    """Remember a webhook event; False when it was processed before (a replay)."""
    inserted = session.execute(
        _insert(session, ProcessedWebhookEvent)
        .values(id=event_id, type=event_type)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ProcessedWebhookEvent.id)
    ).scalar()
    return inserted is not None


def lock_user(session: Session, user_id: int) -> None:
    """Serialise a user's quota checks (PostgreSQL; SQLite's write lock already does)."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
