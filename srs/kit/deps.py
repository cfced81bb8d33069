"""Request-scoped dependencies: the database session and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from srs.kit.db import Database
from srs.kit.settings import Settings

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def sqlite_write_turn(request: Request) -> AsyncIterator[None]:
    """On SQLite, write requests take turns here, on the event loop, before they take a thread.

    A write request holds SQLite's one write lock from its first query to the commit, across
    threadpool hops. Waiting inside SQLite instead, each writer held a thread while the busy
    handler polled (in no order), and once they held every thread the lock holder could not get
    one back to commit: all writes stalled for 30 s (bench/load.py, 64 learners)."""
    turn = request.app.state.sqlite_write_turn
    if turn is None or request.method in _READ_METHODS:
        yield
        return
    async with turn:
        yield


def get_session(
    request: Request, _turn: Annotated[None, Depends(sqlite_write_turn, scope="function")]
) -> Iterator[Session]:
    """One session per request, committed when the handler returns (before the response goes
    out, so a failed commit is the client's error, not a silent loss), rolled back on error."""
    db: Database = request.app.state.db
    with db.transaction(write=request.method not in _READ_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# Row ids in paths: a number past the database's integer range is a 422, not a driver error.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
