"""Every query of metering. Counter changes are single conditional UPDATEs so concurrent
workers on either database can never push a user past the limit or count a unit twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.metering.models import (
    ParkedWebhookEvent,
    ProcessedWebhookEvent,
    Reservation,
    UsageCounter,
    UsageEvent,
)
from srs.topics.models import Topic

REPORTED_KINDS = ("card", "credit", "rebill")
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


def card_event(
    session: Session, user_id: int, card_id: int, card_created: datetime
) -> UsageEvent | None:
    """The event that billed this card. It is written in the card's own transaction, so it is
    never older than the card: an event of a deleted card whose id SQLite gave out again is."""
    return session.scalar(
        select(UsageEvent)
        .where(
            UsageEvent.user_id == user_id,
            UsageEvent.card_id == card_id,
            UsageEvent.kind == "card",
            UsageEvent.created_at >= card_created,
        )
        .order_by(UsageEvent.id.desc())
        .limit(1)
    )


def refund_counts(session: Session, subject: str) -> tuple[int, int]:
    """(credits, rebills) recorded for one billed card."""
    row = session.execute(
        select(
            func.count().filter(UsageEvent.kind == "credit"),
            func.count().filter(UsageEvent.kind == "rebill"),
        ).where(UsageEvent.subject == subject)
    ).one()
    return int(row[0]), int(row[1])


def refunds_in_period(session: Session, user_id: int, period_start: datetime) -> int:
    """Cards refunded in a period and not billed again (credits minus rebills)."""
    row = session.execute(
        select(
            func.count().filter(UsageEvent.kind == "credit"),
            func.count().filter(UsageEvent.kind == "rebill"),
        ).where(UsageEvent.user_id == user_id, UsageEvent.period_start == period_start)
    ).one()
    return int(row[0]) - int(row[1])


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
    """Billable events not yet sent to Stripe (nor refused by it), of users Stripe knows."""
    return session.execute(
        select(UsageEvent, User.stripe_customer_id)
        .join(User, User.id == UsageEvent.user_id)
        .where(
            UsageEvent.reported_at.is_(None),
            UsageEvent.refused_at.is_(None),
            UsageEvent.kind.in_(REPORTED_KINDS),
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
                UsageEvent.kind.in_(REPORTED_KINDS),
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


def mark_refused(session: Session, event_id: int, at: datetime) -> None:
    session.execute(
        update(UsageEvent)
        .where(UsageEvent.id == event_id, UsageEvent.reported_at.is_(None))
        .values(refused_at=at)
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


def reservations(session: Session):
    """(user_id, period_start, held) summed over every reservation that holds cards."""
    return session.execute(
        select(Reservation.user_id, Reservation.period_start, func.sum(Reservation.held))
        .where(Reservation.held > 0)
        .group_by(Reservation.user_id, Reservation.period_start)
    ).all()


# -- reservations -----------------------------------------------------------------------------


def reservation(session: Session, key: str, *, lock: bool = False) -> Reservation | None:
    query = select(Reservation).where(Reservation.key == key)
    if lock:
        query = query.with_for_update()
    return session.scalar(query.execution_options(populate_existing=True))


def add_reservation(session: Session, reservation_row: Reservation) -> Reservation:
    session.add(reservation_row)
    session.flush()
    return reservation_row


def hold(session: Session, key: str, amount: int, period_start: datetime) -> None:
    session.execute(
        update(Reservation)
        .where(Reservation.key == key)
        .values(held=Reservation.held + amount, period_start=period_start, released_at=None)
        .execution_options(**NO_SYNC)
    )


def take_held(session: Session, key: str):
    """Move one held card to billed; (user_id, period_start), or None when nothing is held."""
    return session.execute(
        update(Reservation)
        .where(Reservation.key == key, Reservation.held > 0)
        .values(held=Reservation.held - 1, billed=Reservation.billed + 1)
        .returning(Reservation.user_id, Reservation.period_start)
        .execution_options(**NO_SYNC)
    ).first()


def drop_held(session: Session, key: str, seen: int, at: datetime) -> bool:
    """Zero a reservation if it still holds `seen`: whoever succeeds gives it back, once."""
    result = session.execute(
        update(Reservation)
        .where(Reservation.key == key, Reservation.held == seen)
        .values(held=0, released_at=at)
        .execution_options(**NO_SYNC)
    )
    return result.rowcount == 1


def holding_for_topic(session: Session, topic_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Reservation.key).where(Reservation.topic_id == topic_id, Reservation.held > 0)
        )
    )


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
    held = (
        select(
            Reservation.user_id,
            Reservation.period_start,
            func.sum(Reservation.held).label("held"),
        )
        .group_by(Reservation.user_id, Reservation.period_start)
        .subquery()
    )
    on = and_(
        sums.c.user_id == UsageCounter.user_id, sums.c.period_start == UsageCounter.period_start
    )
    on_held = and_(
        held.c.user_id == UsageCounter.user_id, held.c.period_start == UsageCounter.period_start
    )
    drift = (
        func.abs(UsageCounter.cards_used - func.coalesce(sums.c.cards, 0))
        + func.abs(UsageCounter.cards_reserved - func.coalesce(held.c.held, 0))
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
            func.coalesce(held.c.held, 0).label("held"),
        )
        .outerjoin(sums, on)
        .outerjoin(held, on_held)
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
    """Active topics: an archived topic takes no slot of the plan's topic limit, nor does an
    imported topic that has never generated."""
    # Metering's own record of generation: a topic that ever reserved cards has generated.
    generated = select(Reservation.topic_id).where(Reservation.user_id == user_id)
    counted = or_(Topic.imported.is_(False), Topic.id.in_(generated))
    return int(
        session.scalar(
            select(func.count())
            .select_from(Topic)
            .where(Topic.user_id == user_id, Topic.archived_at.is_(None), counted)
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


def park_webhook(
    session: Session, event_id: str, event_type: str, customer: str, created: datetime, payload: str
) -> None:
    session.execute(
        _insert(session, ParkedWebhookEvent)
        .values(id=event_id, type=event_type, customer=customer, created=created, payload=payload)
        .on_conflict_do_nothing(index_elements=["id"])
    )


def parked_for(session: Session, customer: str) -> list[ParkedWebhookEvent]:
    return list(
        session.scalars(
            select(ParkedWebhookEvent)
            .where(ParkedWebhookEvent.customer == customer)
            .order_by(ParkedWebhookEvent.created, ParkedWebhookEvent.id)
            .with_for_update()
        )
    )


def all_parked(session: Session) -> list[ParkedWebhookEvent]:
    return list(session.scalars(select(ParkedWebhookEvent).order_by(ParkedWebhookEvent.parked_at)))


def count_parked(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ParkedWebhookEvent)) or 0)


def unpark(session: Session, event_id: str) -> None:
    session.execute(
        delete(ParkedWebhookEvent)
        .where(ParkedWebhookEvent.id == event_id)
        .execution_options(**NO_SYNC)
    )


def lock_user(session: Session, user_id: int) -> None:
    """Serialise a user's quota checks (PostgreSQL; SQLite's write lock already does)."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
