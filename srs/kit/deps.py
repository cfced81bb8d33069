"""Request-scoped dependencies: the database session and the settings."""

from __future__ import annotations

from collections.abc import Iterator
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


def get_session(request: Request) -> Iterator[Session]:
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
