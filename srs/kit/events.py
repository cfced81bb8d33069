"""In-process wake-ups for long-polling clients: "something changed in topic N".

A waiter takes the topic's current event *before* it checks the database, so a card saved
between the check and the wait still wakes it. Across processes (a separate `srs worker`)
nothing arrives here; waiters then fall back to a short poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class TopicEvents:
    """Events exist only while someone waits on the topic: `watching` counts the waiters and
    the last one to leave frees the topic's entry, so polling made-up ids costs nothing."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}
        self._waiters: dict[int, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @contextmanager
    def watching(self, topic_id: int) -> Iterator[None]:
        """Call only for a topic the caller owns (checked before)."""
        self._waiters[topic_id] = self._waiters.get(topic_id, 0) + 1
        try:
            yield
        finally:
            left = self._waiters[topic_id] - 1
            if left:
                self._waiters[topic_id] = left
            else:
                del self._waiters[topic_id]
                self._events.pop(topic_id, None)

    def current(self, topic_id: int) -> asyncio.Event:
        if topic_id not in self._waiters:
            raise RuntimeError("current() outside watching(): the entry would never be freed")
        event = self._events.get(topic_id)
        if event is None:
            event = self._events[topic_id] = asyncio.Event()
        return event

    def __len__(self) -> int:
        return len(self._events) + len(self._waiters)

    def _fire(self, topic_id: int) -> None:
        event = self._events.pop(topic_id, None)
        if event is not None:
            event.set()

    def notify(self, topic_id: int) -> None:
        """Safe to call from any thread."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._fire(topic_id)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._fire, topic_id)

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> bool:
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await event.wait()
            return True
        except TimeoutError:
            return False
