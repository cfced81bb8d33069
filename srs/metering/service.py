"""Plans, quotas and the usage ledger.

A batch holds ("reserves") cards of its owner's quota when it starts, in a reservation row of
metering's own with a random key; each saved card moves one unit from held to used in the
card's own transaction, next to its ledger event keyed `card:{reservation key}:{ordinal}`; what
is left is released exactly once when the batch ends or its topic is deleted. The counters are
a cache of the ledger and the reservations that `srs usage rebuild` can recompute and the
reconcile chore checks.

Refunds: a generated card flagged as wrong is credited back when it was billed in the current
period, was never answered Good or Easy, and the period's refunds (net of re-bills) are below
`SRS_REFUND_PERCENT` of the plan's cards. Unflagging a refunded card bills it again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit import metrics
from srs.kit.db import Database, utcnow
from srs.kit.errors import AppError
from srs.kit.settings import Settings
from srs.metering import repository
from srs.metering.models import Reservation
from srs.metering.periods import Period, period_for
from srs.metering.plans import Plan, plan_named, plans
from srs.metering.schemas import (
    CardsUsage,
    PastPeriod,
    PlanOut,
    RefundsUsage,
    SourcesUsage,
    TokensUsage,
    TopicsUsage,
    UsageOut,
)
from srs.topics.models import Card

log = logging.getLogger(__name__)

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


# -- sources (srs/sources counts its own uploads; the limits live here) ----------------------


@dataclass(frozen=True)
class SourceAllowance:
    """What a learner may add as sources this period: None is no monthly limit."""

    plan: Plan
    period: Period
    max_bytes: int | None
    max_pages: int | None


def source_allowance(settings: Settings, user: User, now: datetime) -> SourceAllowance:
    plan = user_plan(settings, user)
    period = period_for(user.plan_anchor, now)
    if plan.name == "free":
        return SourceAllowance(
            plan, period, settings.plan_free_source_bytes, settings.plan_free_source_pages
        )
    return SourceAllowance(plan, period, None, None)


def ensure_source_fits(
    allowance: SourceAllowance, used_bytes: int, used_pages: int, size: int, pages: int
) -> None:
    """402 quota_exceeded when a source of `size` bytes and `pages` pages would take this
    period's sources past the plan's limits (the sources domain counts what is used)."""
    resets = f"it resets on {allowance.period.end:%Y-%m-%d %H:%M} UTC"
    title = allowance.plan.title
    if allowance.max_bytes is not None and used_bytes + size > allowance.max_bytes:
        metrics.QUOTA_REFUSALS.inc()
        raise quota_exceeded(
            f"The {title} plan allows {allowance.max_bytes // (1024 * 1024)} MB of sources a "
            f"period; {used_bytes // 1024} KB are used and this one is {size // 1024} KB "
            f"({resets})."
        )
    if allowance.max_pages is not None and used_pages + pages > allowance.max_pages:
        metrics.QUOTA_REFUSALS.inc()
        raise quota_exceeded(
            f"The {title} plan allows {allowance.max_pages} source pages a period; "
            f"{used_pages} are used and this source has {pages} ({resets})."
        )


def sources_usage(allowance: SourceAllowance, used_bytes: int, used_pages: int) -> SourcesUsage:
    """What GET /usage shows of the sources: the counts the sources domain makes, against
    the limits `ensure_source_fits` refuses past."""
    return SourcesUsage(
        bytes_used=used_bytes,
        bytes_limit=allowance.max_bytes,
        pages_used=used_pages,
        pages_limit=allowance.max_pages,
    )


# -- a batch's reservation -------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """What a batch holds: its reservation key and the cards it may write now."""

    key: str
    count: int


def reserve_for_job(
    session: Session,
    settings: Settings,
    user: User,
    *,
    key: str | None,
    topic_id: int,
    wanted: int,
    now: datetime,
) -> Hold:
    """Hold up to `wanted` cards for a batch, as far as the quota allows. The first call makes
    the reservation (a new random key); a retried batch passes its key back and keeps (and
    counts) what it already holds."""
    period = period_for(user.plan_anchor, now)
    row = repository.reservation(session, key, lock=True) if key else None
    if row is None:
        row = repository.add_reservation(
            session,
            Reservation(
                key=uuid.uuid4().hex, user_id=user.id, topic_id=topic_id, period_start=period.start
            ),
        )
    elif row.held and row.period_start != period.start:
        release(session, row.key, now)  # held in a period that has ended: hold it in this one
    held = _held(session, row.key)
    missing = max(0, wanted) - held
    if missing > 0:
        limit = user_plan(settings, user).cards_per_period
        granted = repository.reserve(session, user.id, period.start, missing, limit)
        if granted:
            repository.hold(session, row.key, granted, period.start)
            held += granted
        if granted < missing:
            metrics.QUOTA_REFUSALS.inc()
    return Hold(row.key, min(max(0, wanted), held))


def _held(session: Session, key: str) -> int:
    row = repository.reservation(session, key)
    return row.held if row else 0


def release(session: Session, key: str | None, now: datetime | None = None) -> int:
    """Give back what is left of a reservation. The row is zeroed by a conditional UPDATE
    first, so two callers can never both give it back."""
    row = repository.reservation(session, key) if key else None
    if row is None:
        return 0
    held = row.held
    if not repository.drop_held(session, row.key, held, now or utcnow()):
        return 0
    if held:
        repository.change(session, row.user_id, row.period_start, reserved=-held)
    return held


def release_topic(session: Session, topic_id: int) -> int:
    """A deleted topic's batches will write nothing more: free their cards now, in the
    transaction that deletes the topic."""
    return sum(release(session, key) for key in repository.holding_for_topic(session, topic_id))


def bill_card(session: Session, key: str, ordinal: int, card_id: int) -> bool:
    """Called in the transaction that saves the card: one held card becomes one used card,
    recorded under `card:{key}:{ordinal}`. False when the reservation holds nothing (never
    expected): the caller must not keep the card."""
    taken = repository.take_held(session, key)
    if taken is None:
        return False
    user_id, period_start = taken
    billing_key = f"card:{key}:{ordinal}"
    recorded = repository.record(
        session,
        user_id=user_id,
        period_start=period_start,
        kind="card",
        quantity=1,
        idempotency_key=billing_key,
        subject=billing_key,
        card_id=card_id,
    )
    repository.change(session, user_id, period_start, used=1 if recorded else 0, reserved=-1)
    return True


def usage_key() -> str:
    """A key for a job that holds no cards (an outline): its token events are keyed by it, so
    they can never collide with another job's, whatever row ids the database reuses."""
    return uuid.uuid4().hex


def record_tokens(
    session: Session,
    user_id: int,
    key: str | None,
    attempt: int,
    now: datetime,
    tokens: tuple[int, int],
    estimated: bool,
) -> None:
    """One event per attempt: the provider's count, or the worker's estimate (marked)."""
    tokens_in, tokens_out = tokens
    if (not tokens_in and not tokens_out) or key is None:
        return
    row = repository.reservation(session, key)
    if row is not None:
        period_start = row.period_start
    else:
        period_start = period_for(session.get(User, user_id).plan_anchor, now).start
    recorded = repository.record(
        session,
        user_id=user_id,
        period_start=period_start,
        kind="tokens",
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        tokens_estimated=estimated,
        idempotency_key=f"tokens:{key}:{attempt}",
    )
    if recorded:
        repository.change(
            session, user_id, period_start, tokens_in=tokens_in, tokens_out=tokens_out
        )


# -- refunds for flagged cards ----------------------------------------------------------------


def refund_limit(settings: Settings, user: User) -> int:
    return user_plan(settings, user).cards_per_period * settings.refund_percent // 100


def refund_rule(settings: Settings, user: User) -> str:
    return (
        f"A generated card you flag as wrong is refunded if it was generated this period and "
        f"you never answered it Good or Easy, up to {refund_limit(settings, user)} cards a "
        f"period ({settings.refund_percent}% of the plan). Unflagging a refunded card bills "
        "it again."
    )


def refund_flagged(
    session: Session,
    settings: Settings,
    user: User,
    card: Card,
    *,
    answered_well: bool,
    now: datetime,
) -> bool:
    """Credit a flagged card back under the rule above; True when a credit was recorded.
    Flagging twice credits once; the credit is a new ledger event, never an edit."""
    if card.job_id is None or answered_well:
        return False
    billed = repository.card_event(session, user.id, card.id, card.created_at)
    if billed is None or billed.period_start != period_for(user.plan_anchor, now).start:
        return False
    repository.lock_user(session, user.id)  # concurrent flags must not both fit under the cap
    credits, rebills = repository.refund_counts(session, billed.idempotency_key)
    if credits > rebills:
        return False  # refunded already
    if repository.refunds_in_period(session, user.id, billed.period_start) >= refund_limit(
        settings, user
    ):
        return False
    return _record_refund_step(session, billed, "credit", credits + 1)


def rebill_unflagged(session: Session, user: User, card: Card) -> bool:
    """Bill a refunded card again when its flag is taken back (once per refund)."""
    if card.job_id is None:
        return False
    billed = repository.card_event(session, user.id, card.id, card.created_at)
    if billed is None:
        return False
    credits, rebills = repository.refund_counts(session, billed.idempotency_key)
    if credits <= rebills:
        return False
    return _record_refund_step(session, billed, "rebill", rebills + 1)


def _record_refund_step(session: Session, billed, kind: str, number: int) -> bool:
    quantity = -1 if kind == "credit" else 1
    recorded = repository.record(
        session,
        user_id=billed.user_id,
        period_start=billed.period_start,
        kind=kind,
        quantity=quantity,
        idempotency_key=f"{kind}:{billed.idempotency_key}:{number}",
        subject=billed.idempotency_key,
        card_id=billed.card_id,
    )
    if recorded:
        repository.change(session, billed.user_id, billed.period_start, used=quantity)
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


def usage(
    session: Session, settings: Settings, user: User, now: datetime, sources: SourcesUsage
) -> UsageOut:
    """`sources` comes from the sources service (`SourceService.usage`), which counts them."""
    q = quota(session, settings, user, now)
    row = repository.counter(session, user.id, q.period.start)
    sums = repository.ledger_sums(session, user.id)
    return UsageOut(
        plan=q.plan.name,
        plan_title=q.plan.title,
        period_start=q.period.start,
        period_end=q.period.end,
        cards=CardsUsage(used=q.used, limit=q.plan.cards_per_period, reserved=q.reserved),
        refunds=RefundsUsage(
            used=repository.refunds_in_period(session, user.id, q.period.start),
            limit=refund_limit(settings, user),
            rule=refund_rule(settings, user),
        ),
        tokens=TokensUsage(
            input=row.tokens_in if row else 0,
            output=row.tokens_out if row else 0,
            estimated=repository.tokens_estimated(session, user.id, q.period.start),
        ),
        topics=TopicsUsage(
            active=repository.count_topics(session, user.id), limit=q.plan.active_topics
        ),
        sources=sources,
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
    """Compare every counter with its ledger sums and its reservations; log and publish the
    drift (`srs usage rebuild` repairs it)."""
    with db.transaction(write=False) as session:
        rows = repository.drift_rows(session)
        missing = repository.periods_without_counter(session)
        metrics.BILLING_PARKED.set(repository.count_parked(session))
    drift = missing
    for row in rows:
        if row.drift:
            drift += row.drift
            log.warning(
                "usage drift for user %s period %s: counter says %s cards used and %s held, "
                "ledger %s used and reservations %s held (%s units off in all); "
                "`srs usage rebuild` recomputes it",
                row.user_id,
                row.period_start.isoformat(),
                row.cards_used,
                row.cards_reserved,
                row.ledger_cards,
                row.held,
                row.drift,
            )
    if missing:
        log.warning("usage drift: %s ledger periods have no counter row", missing)
    metrics.USAGE_DRIFT.set(drift)
    return drift


_FIELDS = ("cards_used", "cards_reserved", "tokens_in", "tokens_out")


def rebuild(db: Database) -> list[str]:
    """Recompute every counter from the ledger and the reservations; returns one line per
    counter that changed. Run it with the workers stopped."""
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
