"""A failing ticker chore is counted where an operator sees it, and does not stop the ticker."""

from __future__ import annotations

import asyncio

from srs.generation.ticker import _in_thread
from srs.kit import metrics


def _failures(step: str) -> float:
    return metrics.BACKGROUND_FAILURES.labels(step)._value.get()


def test_a_failing_chore_is_counted_and_the_next_tick_runs_it_again() -> None:
    calls: list[int] = []

    def chore() -> None:
        calls.append(1)
        raise RuntimeError("database unreachable")

    run = _in_thread("refill_active_topics", chore)
    before = _failures("chore:refill_active_topics")
    asyncio.run(run())
    asyncio.run(run())
    assert len(calls) == 2
    assert _failures("chore:refill_active_topics") == before + 2
