"""Plans, quotas and the usage ledger.

A job holds ("reserves") cards of its owner's quota when it starts; each saved card moves one
unit from reserved to used in the card's own transaction, next to its ledger event; what is left
is released exactly once when the job ends. The counters are a cache of the ledger that
`srs usage rebuild` can recompute and the reconcile chore checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.generation import repository as jobs
from srs.generation.models import GenerationJob
from srs.kit import metrics
from srs.kit.db import Database
from srs.kit.errors import AppError
from srs.kit.settings import Settings
from srs.metering import repository
from srs.metering.periods import Period, period_for
from srs.metering.plans import Plan, plan_named, plans
from srs.metering.schemas import (
    CardsUsage,
    PastPeriod,
    PlanOut,
    TokensUsage,
    TopicsUsage,
    UsageOut,
)
from srs.topics.models import Card

log = logging.getLogger(__name__)

REFUND_WINDOW = timedelta(hours=24)
PAST_PERIODS = 12


@dataclass(frozen=True)
class Quota:
    plan: Plan
    period: Period
    used: int
    reserved: int

    @property
    def remaining(self) -> int:
        return max(0, self.plan.cards_per_period - self.used - self.reserved)


def quota_exceeded(message: str) -> AppError:
    return AppError(message, code="quota_exceeded", status_code=402)


def user_plan(settings: Settings, user: User) -> Plan:
    try:
        return plan_named(settings, user.plan)
    except ValueError:
        log.warning("user %s has unknown plan %r; treating it as free", user.id, user.plan)
        return plans(settings)["free"]


def quota(session: Session, settings: Settings, user: User, now: datetime) -> Quota:
    period = period_for(user.plan_anchor, now)
    row = repository.counter(session, user.id, period.start)
    used, reserved = (row.cards_used, row.cards_reserved) if row else (0, 0)
    return Quota(user_plan(settings, user), period, used, reserved)


def quota_message(q: Quota) -> str:
    return (
        f"The {q.plan.title} plan's limit of {q.plan.cards_per_period} generated cards this "
        f"period is used up; it resets on {q.period.end:%Y-%m-%d %H:%M} UTC. "
        "Existing cards can still be studied."
    )


def refusal(session: Session, settings: Settings, user: User, now: datetime) -> str | None:
    """Why no batch can start for this user now, or None when cards remain."""
    q = quota(session, settings, user, now)
    return quota_message(q) if q.remaining <= 0 else None


def ensure_can_generate(session: Session, settings: Settings, user: User, now: datetime) -> None:
    message = refusal(session, settings, user, now)
    if message is not None:
        metrics.QUOTA_REFUSALS.inc()
        raise quota_exceeded(message)


def ensure_topic_allowed(
    session: Session, settings: Settings, user: User, wanted: str = "add another"
) -> None:
    """One more active topic (a new one, or an archived one made active again) must fit the
    plan; `wanted` says which in the refusal."""
    plan = user_plan(settings, user)
    if plan.active_topics is None:
        return
    repository.lock_user(session, user.id)  # two concurrent creates must not both fit
    if repository.count_topics(session, user.id) >= plan.active_topics:
        raise quota_exceeded(
            f"The {plan.title} plan allows {plan.active_topics} active topics; archive or "
            f"delete one, or upgrade, to {wanted}."
        )


# -- a job's reservation ----------------------------------------------------------------------


def reserve_for_job(
    session: Session, settings: Settings, job: GenerationJob, user: User, now: datetime
) -> int:
    """How many cards this attempt may write: the job's reservation topped up to what it still
    needs, as far as the quota allows. A retried job keeps (and counts) what it already holds."""
    period = period_for(user.plan_anchor, now)
    if job.reserved and job.reserved_period != period.start:
        release(session, job)  # held in a period that has ended: hold it in this one instead
    wanted = max(0, job.requested - job.saved)
    missing = wanted - job.reserved
    if missing > 0:
        limit = user_plan(settings, user).cards_per_period
        granted = repository.reserve(session, user.id, period.start, missing, limit)
        if granted:
            jobs.hold(session, job.id, granted, period.start)
        if granted < missing:
            metrics.QUOTA_REFUSALS.inc()
    return min(wanted, job.reserved)


def release(session: Session, job: GenerationJob) -> int:
    """Give back what is left of a job's reservation. The job's row is zeroed by a conditional
    UPDATE first, so two callers can never both give it back."""
    held = job.reserved
    if held <= 0 or job.reserved_period is None:
        return 0
    if not jobs.drop_reservation(session, job.id, held):
        return 0
    repository.change(session, job.user_id, job.reserved_period, reserved=-held)
    return held


def bill_card(
    session: Session, user_id: int, period_start: datetime, job_id: int, ordinal: int, card_id: int
) -> None:
    """Called in the transaction that saves the card (and takes one unit off job.reserved)."""
    recorded = repository.record(
        session,
        user_id=user_id,
        period_start=period_start,
        kind="card",
        quantity=1,
        idempotency_key=f"card:{job_id}:{ordinal}",
        job_id=job_id,
        card_id=card_id,
    )
    if recorded:
        repository.change(session, user_id, period_start, used=1, reserved=-1)


def record_tokens(
    session: Session,
    job: GenerationJob,
    now: datetime,
    tokens_in: int,
    tokens_out: int,
    estimated: bool,
) -> None:
    """One event per attempt: the provider's count, or the worker's estimate (marked)."""
    if not tokens_in and not tokens_out:
        return
    period_start = job.reserved_period
    if period_start is None:
        user = session.get(User, job.user_id)
        period_start = period_for(user.plan_anchor, now).start
    recorded = repository.record(
        session,
        user_id=job.user_id,
        period_start=period_start,
        kind="tokens",
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        tokens_estimated=estimated,
        idempotency_key=f"tokens:{job.id}:{job.attempts}",
        job_id=job.id,
    )
    if recorded:
        repository.change(
            session, job.user_id, period_start, tokens_in=tokens_in, tokens_out=tokens_out
        )


def credit_flagged(session: Session, card: Card, now: datetime) -> bool:
    """A generated card flagged as wrong within a day of its creation is credited back, once:
    a new "credit" event, never an edit of the card's own event."""
    if card.job_id is None or card.ordinal is None or now - card.created_at > REFUND_WINDOW:
        return False
    billed = repository.card_event(session, card.job_id, card.ordinal)
    if billed is None:
        return False
    recorded = repository.record(
        session,
        user_id=card.user_id,
        period_start=billed.period_start,
        kind="credit",
        quantity=-1,
        idempotency_key=f"credit:{card.id}",
        job_id=card.job_id,
        card_id=card.id,
    )
    if recorded:
        repository.change(session, card.user_id, billed.period_start, used=-1)
    return recorded


# -- plans ------------------------------------------------------------------------------------


def set_plan(session: Session, settings: Settings, user: User, name: str, at: datetime) -> Plan:
    """Moving from free to pro starts a new billing cycle at the change; other moves keep it."""
    plan = plan_named(settings, name)
    if user.plan == "free" and plan.name == "pro":
        user.plan_anchor = at
    user.plan = plan.name
    user.plan_changed_at = at
    session.flush()
    return plan


# -- reading usage ----------------------------------------------------------------------------


def usage(session: Session, settings: Settings, user: User, now: datetime) -> UsageOut:
    q = quota(session, settings, user, now)
    row = repository.counter(session, user.id, q.period.start)
    sums = repository.ledger_sums(session, user.id)
    return UsageOut(
        plan=q.plan.name,
        plan_title=q.plan.title,
        period_start=q.period.start,
        period_end=q.period.end,
        cards=CardsUsage(used=q.used, limit=q.plan.cards_per_period, reserved=q.reserved),
        tokens=TokensUsage(
            input=row.tokens_in if row else 0,
            output=row.tokens_out if row else 0,
            estimated=repository.tokens_estimated(session, user.id, q.period.start),
        ),
        topics=TopicsUsage(
            active=repository.count_topics(session, user.id), limit=q.plan.active_topics
        ),
        plans=[PlanOut(**vars(p)) for p in plans(settings).values()],
        past_periods=[
            PastPeriod(
                period_start=s.period_start,
                cards_used=s.cards,
                tokens_in=s.tokens_in,
                tokens_out=s.tokens_out,
            )
            for s in sums
            if s.period_start < q.period.start
        ][:PAST_PERIODS],
    )


# -- keeping the counters honest --------------------------------------------------------------


def reconcile(db: Database) -> int:
    """Compare every counter with its ledger sums; log and publish the drift. Also frees held
    cards that no job holds any more (a topic deleted while its job ran)."""
    with db.transaction(write=False) as session:
        rows = repository.drift_rows(session)
        missing = repository.periods_without_counter(session)
    drift = missing
    for row in rows:
        if row.drift:
            drift += row.drift
            log.warning(
                "usage drift for user %s period %s: counter says %s cards, ledger %s "
                "(%s units off in all); `srs usage rebuild` recomputes it",
                row.user_id,
                row.period_start.isoformat(),
                row.cards_used,
                row.ledger_cards,
                row.drift,
            )
    if missing:
        log.warning("usage drift: %s ledger periods have no counter row", missing)
    metrics.USAGE_DRIFT.set(drift)
    _free_orphaned_reservations(db, [r for r in rows if r.cards_reserved > 0])
    return drift


def _free_orphaned_reservations(db: Database, rows) -> None:
    for row in rows:
        with db.transaction() as session:
            if repository.clear_orphaned_reservation(
                session, row.user_id, row.period_start, row.cards_reserved
            ):
                log.warning(
                    "released %s cards held for user %s by jobs that no longer exist",
                    row.cards_reserved,
                    row.user_id,
                )


_FIELDS = ("cards_used", "cards_reserved", "tokens_in", "tokens_out")


def rebuild(db: Database) -> list[str]:
    """Recompute every counter from the ledger (and the reservations of queued and running
    jobs); returns one line per counter that changed. Run it with the workers stopped."""
    changes = []
    with db.transaction() as session:
        wanted = {key: dict.fromkeys(_FIELDS, 0) for key in _counter_keys(session)}
        for s in repository.ledger_sums(session):
            wanted[(s.user_id, s.period_start)].update(
                cards_used=s.cards, tokens_in=s.tokens_in, tokens_out=s.tokens_out
            )
        for user_id, period_start, held in repository.reservations(session):
            wanted.setdefault((user_id, period_start), dict.fromkeys(_FIELDS, 0))
            wanted[(user_id, period_start)]["cards_reserved"] = int(held)
        for (user_id, period_start), values in sorted(wanted.items()):
            line = _rebuild_one(session, user_id, period_start, values)
            if line:
                changes.append(line)
    return changes


def _counter_keys(session: Session) -> set[tuple[int, datetime]]:
    keys = {(c.user_id, c.period_start) for c in repository.all_counters(session)}
    keys |= {(s.user_id, s.period_start) for s in repository.ledger_sums(session)}
    return keys


def _rebuild_one(session: Session, user_id: int, period_start: datetime, values: dict) -> str:
    row = repository.counter(session, user_id, period_start)
    before = {f: getattr(row, f) if row else 0 for f in _FIELDS}
    diffs = [f"{f} {before[f]} -> {values[f]}" for f in _FIELDS if before[f] != values[f]]
    if not diffs and row is not None:
        return ""
    repository.set_counter(session, user_id, period_start, **values)
    what = ", ".join(diffs) or "counter row created"
    return f"user {user_id} period {period_start:%Y-%m-%d %H:%M}: {what}"
