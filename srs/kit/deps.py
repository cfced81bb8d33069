"""Request-scoped dependencies: the database session and the settings.

Providers that only hand over something the app's lifespan made are `async def`: FastAPI runs
a plain `def` dependency in the threadpool, a thread hop each per request (of 19 hops in
a 401 before they were async, 11 were such providers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from srs.kit.db import Database
from srs.kit.ratelimit import RateLimiter
from srs.kit.settings import Settings

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
T = TypeVar("T")


async def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


@asynccontextmanager
async def turn(request: Request, *, write: bool) -> AsyncIterator[None]:
    """Wait, on the event loop, for the right to hold a session (see database_turn)."""
    gate = request.app.state.db_turn
    if gate is None or (request.app.state.db.is_sqlite and not write):
        yield
        return
    async with gate:
        yield


async def database_turn(request: Request) -> AsyncIterator[None]:
    """Requests wait here, on the event loop, before they take a thread and a connection.

    A request keeps its session (a connection, and on SQLite for a write the one write lock)
    from its first query to the commit, across several threadpool hops. Left to queue inside
    the driver, waiters each held a thread, and once they held every thread the holder could
    not get one back to commit: SQLite writes stalled for 30 s at 64 learners and PostgreSQL
    froze at ~70 simultaneous requests (bench/load.py). So on SQLite writes take turns, and on
    PostgreSQL no more requests hold sessions than the pool can serve, with room to spare for
    the worker and long-polls."""
    async with turn(request, write=request.method not in _READ_METHODS):
        yield


async def in_transaction(
    request: Request, work: Callable[..., T], *args: object, write: bool = True, **kwargs: object
) -> T:
    """`work(session, *args, **kwargs)` in its own short transaction (Database.run: on the event
    loop on PostgreSQL, in the threadpool on SQLite), holding the database turn only while it
    runs. For the study step, and for endpoints that do slow work between database steps
    (hashing a password): that work then holds no turn, no connection and no lock."""
    db: Database = request.app.state.db
    async with turn(request, write=write):
        return await db.run(work, *args, write=write, **kwargs)


def get_session(
    request: Request, _turn: Annotated[None, Depends(database_turn, scope="function")]
) -> Iterator[Session]:
    """One session per request, committed when the handler returns (before the response goes
    out, so a failed commit is the client's error, not a silent loss), rolled back on error."""
    db: Database = request.app.state.db
    with db.transaction(write=request.method not in _READ_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
# The database itself, for endpoints that open their own short transactions.
AppDatabase = Annotated[Database, Depends(get_database)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# Row ids in paths: a number past the database's integer range is a 422, not a driver error.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
