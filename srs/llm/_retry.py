"""The one retry loop of the HTTP providers: retry only while no text has reached the caller."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from srs.llm.base import LLMError, StreamEvent, TextDelta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5

    def delay(self, retry: int, error: LLMError) -> float:
        """Seconds before retry number `retry` (0-based): the server's Retry-After wins."""
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        # Jitter keeps many workers that failed together from retrying in lockstep.
        return self.backoff_base * 2.0**retry + random.uniform(0, self.backoff_base / 4)


async def with_retries(
    attempt: Callable[[], AsyncGenerator[StreamEvent, None]],
    policy: RetryPolicy,
    deadline_at: float,
    provider: str,
) -> AsyncGenerator[StreamEvent, None]:
    """Run `attempt` until it completes, retrying retryable failures before the first text.

    Once a TextDelta was yielded the caller has consumed it, so a restart would duplicate
    text: any later failure is raised. So is a stall (the provider answered, then sent
    nothing for the chunk timeout): the job is retried later, and the slot freed now. A retry that would end past the deadline is not tried.
    """
    loop = asyncio.get_running_loop()
    retry = 0
    while True:
        sent_text = False
        try:
            async with aclosing(attempt()) as events:
                async for event in events:
                    sent_text = sent_text or isinstance(event, TextDelta)
                    yield event
            return
        except LLMError as error:
            if sent_text or error.stalled or not error.retryable or retry >= policy.max_retries:
                raise
            delay = policy.delay(retry, error)
            if loop.time() + delay >= deadline_at:
                raise
            log.warning(
                "%s: %s (%s); retry %d of %d in %.2fs",
                provider, error.kind, error.message, retry + 1, policy.max_retries, delay,
            )
            await asyncio.sleep(delay)
            retry += 1
