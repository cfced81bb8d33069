"""One LISTEN connection per API process on PostgreSQL: a change announced by any process
(srs.kit.events.announce) wakes this process's long-polls within milliseconds."""

from __future__ import annotations

import asyncio
import logging

import psycopg
from sqlalchemy.engine import make_url

from srs.kit import metrics
from srs.kit.events import CHANNEL, TopicEvents, trace

log = logging.getLogger("srs.listener")

FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 5.0


def libpq_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class TopicListener:
    def __init__(self, database_url: str, events: TopicEvents) -> None:
        self._conninfo = libpq_url(database_url)
        self._events = events

    async def run(self) -> None:
        """Listen until cancelled; a dropped connection is logged, counted and reopened with
        backoff while long-polls fall back to the short poll."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as error:
                log.warning(
                    "LISTEN %s connection lost (%s); reconnecting in %.1f s, long-polls poll "
                    "the database meanwhile",
                    CHANNEL,
                    error,
                    delay,
                )
            finally:
                self._set_up(False)
            metrics.LISTENER_RECONNECTS.inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self._set_up(True)
            log.info("listening for topic changes on %s", CHANNEL)
            # Changes made while we were not listening were never delivered: re-read now.
            self._events.fire_all()
            async for note in conn.notifies():
                self._deliver(note.payload)
        raise psycopg.OperationalError("the notification stream ended")

    def _deliver(self, payload: str) -> None:
        try:
            topic_id = int(payload)
        except ValueError:
            log.warning("ignoring a %s notification that is not a topic id: %r", CHANNEL, payload)
            return
        trace("heard", topic_id)
        self._events.notify(topic_id)

    def _set_up(self, up: bool) -> None:
        self._events.listening = up
        metrics.LISTENER_UP.set(1 if up else 0)
