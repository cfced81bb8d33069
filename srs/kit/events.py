"""Wake-ups for long-polling clients: "something changed in topic N".

A waiter takes the topic's current event *before* it checks the database, so a card saved
between the check and the wait still wakes it. In one process the change fires the event
directly. On PostgreSQL every change is also announced with NOTIFY inside its transaction,
and each API process's listener (srs.kit.listener) fires its events for changes made by any
process. Waiters re-read the database on a short poll when no listener is up (SQLite, or a
dropped connection), and only on a slow safety-net poll while it is.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from srs.kit.errors import AppError

CHANNEL = "srs_topic"
# Re-read the database this often without a listener (another process cannot wake us)...
POLL_SECONDS = 0.5
# ...and this often with one, only in case a notification was lost.
SAFETY_POLL_SECONDS = 5.0
# A file to append one line per step of a card's delivery to ("<monotonic> <pid> <step>
# <topic>"), for bench/stream_latency.py's breakdown (SRS_DELIVERY_TRACE, set by trace_to at
# start-up). CLOCK_MONOTONIC is one clock for every process on the machine, so steps in the
# worker and the API line up. Unset: no cost.
TRACE_FILE: str | None = None


def trace_to(path: str | None) -> None:
    """Where this process notes delivery steps (Settings.delivery_trace); None: nowhere."""
    global TRACE_FILE
    TRACE_FILE = path or None


def trace(step: str, topic_id: int, at: float | None = None) -> None:
    """Note a step of a card's way to the learner (only with SRS_DELIVERY_TRACE set)."""
    if TRACE_FILE is None:
        return
    with open(TRACE_FILE, "a") as file:
        file.write(
            f"{time.monotonic() if at is None else at:.6f} {os.getpid()} {step} {topic_id}\n"
        )


def announce(session: Session, topic_id: int) -> None:
    """On PostgreSQL, tell every process's listener; NOTIFY is delivered on commit only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, str(topic_id))))


class TopicEvents:
    """Events exist only while someone waits on the topic: `watching` counts the waiters and
    the last one to leave frees the topic's entry, so polling made-up ids costs nothing."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}
        self._waiters: dict[int, int] = {}
        # Open long-polls per learner (their id), and per credential (a token, before it is
        # checked).
        self._polls: dict[Hashable, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listening = False  # set by the listener while its LISTEN connection is up

    @property
    def poll_seconds(self) -> float:
        return SAFETY_POLL_SECONDS if self.listening else POLL_SECONDS

    def fire_all(self) -> None:
        """Wake every waiter to re-read: notifications may have been missed."""
        for topic_id in list(self._events):
            self._fire(topic_id)

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

    def open_polls(self, user_id: int) -> int:
        """How many long-polls of this learner are waiting now."""
        return self._polls.get(user_id, 0)

    @contextmanager
    def polling(self, user_id: Hashable, limit: int | None) -> Iterator[None]:
        """Hold one of the learner's `limit` long-poll places; 429 when all are taken. None:
        a request that does not wait holds no place."""
        if limit is None:
            yield
            return
        self.take_place(user_id, limit)
        try:
            yield
        finally:
            self.give_place(user_id)

    def take_place(self, key: Hashable, limit: int) -> None:
        """One of `key`'s `limit` long-poll places (give it back with `give_place`); 429 when
        all are taken."""
        held = self._polls.get(key, 0)
        if held >= limit:
            raise AppError(
                f"You already have {held} requests waiting for cards; at most {limit} may "
                "wait at once. Close other tabs or retry without wait.",
                code="rate_limited",
                status_code=429,
                headers={"Retry-After": "1"},
            )
        self._polls[key] = held + 1

    def give_place(self, key: Hashable) -> None:
        left = self._polls[key] - 1
        if left:
            self._polls[key] = left
        else:
            del self._polls[key]

    def current(self, topic_id: int) -> asyncio.Event:
        if topic_id not in self._waiters:
            raise RuntimeError("current() outside watching(): the entry would never be freed")
        event = self._events.get(topic_id)
        if event is None:
            event = self._events[topic_id] = asyncio.Event()
        return event

    def __len__(self) -> int:
        return len(self._events) + len(self._waiters) + len(self._polls)

    def _fire(self, topic_id: int) -> None:
        event = self._events.pop(topic_id, None)
        if event is not None:
            trace("woken", topic_id)
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
