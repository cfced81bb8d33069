"""The in-process ticker (APScheduler 3.x, in-memory store). Its jobs are idempotent database
chores, so one ticker per process is harmless when several processes share a database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from srs.kit import metrics

log = logging.getLogger(__name__)


def start_ticker(chores: dict[str, tuple[Callable[[], object], float]]) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})
    for name, (chore, every_seconds) in chores.items():
        scheduler.add_job(
            _in_thread(name, chore), "interval", seconds=every_seconds, id=name, name=name
        )
    scheduler.start()
    return scheduler


def _in_thread(name: str, chore: Callable[[], object]):
    async def run() -> None:
        try:
            await asyncio.to_thread(chore)
        except Exception:
            # A chore that fails is logged, counted and tried again on the next tick.
            metrics.BACKGROUND_FAILURES.labels(f"chore:{name}").inc()
            log.exception("ticker chore %s failed", name)

    run.__name__ = name
    return run
