"""Counters are a cache of the ledger: drift is detected and `srs usage rebuild` repairs it."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import update

from srs.kit import metrics
from srs.kit.db import utcnow
from srs.metering import repository, service
from srs.metering.models import Reservation, UsageCounter
from srs.metering.periods import period_for
from tests.metering.conftest import add_topic_with_job, add_user, counters


def _seed(db, user_id: int):
    period = period_for(utcnow(), utcnow()).start
    with db.transaction() as s:
        for n in range(4):
            repository.record(s, user_id=user_id, period_start=period, kind="card", quantity=1,
                              idempotency_key=f"card:9:{n}")
        repository.record(s, user_id=user_id, period_start=period, kind="credit", quantity=-1,
                          idempotency_key="credit:1")
        repository.change(s, user_id, period, used=3)
    return period


def test_drift_is_measured_and_rebuild_repairs_it(db, database_url):
    user_id = add_user(db)
    _seed(db, user_id)
    assert service.reconcile(db) == 0
    with db.transaction() as s:
        s.execute(update(UsageCounter).values(cards_used=7, cards_reserved=2, tokens_in=5))
    # 4 cards used too many, 2 held that no reservation holds, 5 tokens.
    assert service.reconcile(db) == 4 + 2 + 5
    assert metrics.USAGE_DRIFT._value.get() == 11
    env = {**os.environ, "SRS_DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "srs.cli", "usage", "rebuild"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "cards_used 7 -> 3" in out and "cards_reserved 2 -> 0" in out and "tokens_in 5 -> 0" in out
    assert service.reconcile(db) == 0
    assert "already match" in subprocess.run([sys.executable, "-m", "srs.cli", "usage", "rebuild"],
                                             env=env, capture_output=True, text=True, check=False).stdout


def test_rebuild_counts_reservations_of_running_batches(db):
    user_id = add_user(db)
    period = _seed(db, user_id)
    topic_id, _ = add_topic_with_job(db, user_id, requested=10)
    with db.transaction() as s:
        row = repository.add_reservation(
            s, Reservation(key="k" * 32, user_id=user_id, topic_id=topic_id, period_start=period)
        )
        repository.hold(s, row.key, 6, period)
    assert service.reconcile(db) == 6  # held by a reservation, not in the counter
    assert any("cards_reserved 0 -> 6" in line for line in service.rebuild(db))
    [counter] = counters(db, user_id)
    assert (counter.cards_used, counter.cards_reserved) == (3, 6)
    assert service.reconcile(db) == 0
