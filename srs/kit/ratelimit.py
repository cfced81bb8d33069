"""Fixed-window rate limits kept in memory, per process.

Enough to stop a script hammering sign-up, log-in or topic creation; with several API
processes each keeps its own count (put a shared limiter at the proxy for a hard cap).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from srs.kit.errors import AppError


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, bucket: str, key: str, limit: int, per_seconds: float) -> None:
        """Count one request; raise 429 `rate_limited` once `limit` is passed in the window."""
        if limit <= 0:
            return
        now = self._clock()
        with self._lock:
            started, count = self._windows.get((bucket, key), (now, 0))
            if now - started >= per_seconds:
                started, count = now, 0
            count += 1
            self._windows[(bucket, key)] = (started, count)
            if len(self._windows) > 100_000:
                self._forget_old(now, per_seconds)
        if count > limit:
            retry_after = max(1, int(started + per_seconds - now) + 1)
            raise AppError(
                f"Too many requests; try again in {retry_after} s",
                code="rate_limited",
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )

    def _forget_old(self, now: float, per_seconds: float) -> None:
        for key, (started, _count) in list(self._windows.items()):
            if now - started >= per_seconds:
                del self._windows[key]
