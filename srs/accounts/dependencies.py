"""Who is calling: a bearer token (API clients) or the session cookie (the web app).

Cookie-authenticated writes must also carry the CSRF header (double submit), because a
browser sends cookies on cross-site requests; bearer tokens are never sent implicitly.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from srs.accounts import service
from srs.accounts.models import User
from srs.accounts.passwords import PasswordHashing
from srs.kit.deps import AppSettings, DbSession, in_transaction
from srs.kit.errors import AppError, unauthorized
from srs.kit.settings import Settings

SESSION_COOKIE = "srs_session"
CSRF_COOKIE = "srs_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Caller:
    user: User
    token: str
    via_cookie: bool


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def presented_token(request: Request) -> str | None:
    """The token a request carries (bearer, else the session cookie), not yet checked."""
    return _bearer(request) or request.cookies.get(SESSION_COOKIE) or None


def _checked_token(request: Request, settings: Settings) -> tuple[str, bool]:
    """The presented token and whether it came as a cookie; a cookie write needs its CSRF header."""
    token = _bearer(request)
    via_cookie = False
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        via_cookie = token is not None
    if not token:
        raise unauthorized()
    if via_cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, service.csrf_token(settings.secret_key, token)):
            raise AppError("Missing or wrong CSRF token", code="csrf_failed", status_code=403)
    return token, via_cookie


@dataclass(frozen=True)
class PresentedToken:
    """A token the request carries, with its CSRF header checked; its owner not yet read."""

    token: str
    via_cookie: bool

    def caller(self, session: Session) -> Caller:
        user = service.authenticate(session, self.token)
        return Caller(user=user, token=self.token, via_cookie=self.via_cookie)


async def get_presented_token(request: Request, settings: AppSettings) -> PresentedToken:
    """For endpoints that read the caller inside their own transaction: a request with no
    token (or a cookie write without its CSRF header) is refused before its body is read."""
    return PresentedToken(*_checked_token(request, settings))


def get_caller(request: Request, session: DbSession, settings: AppSettings) -> Caller:
    return PresentedToken(*_checked_token(request, settings)).caller(session)


async def get_caller_without_session(request: Request, settings: AppSettings) -> Caller:
    """The caller, checked in a short read of its own. For endpoints that hash a password
    (hundreds of milliseconds of argon2): they must not hold the request's transaction, and
    on SQLite its write turn, while they do."""
    token, via_cookie = _checked_token(request, settings)
    user = await in_transaction(request, service.authenticate, token, write=False)
    return Caller(user=user, token=token, via_cookie=via_cookie)


async def get_password_hashing(request: Request) -> PasswordHashing:
    return request.app.state.password_hashing


async def get_current_user(caller: Annotated[Caller, Depends(get_caller)]) -> User:
    return caller.user


CurrentCaller = Annotated[Caller, Depends(get_caller)]
Presented = Annotated[PresentedToken, Depends(get_presented_token)]
# No request transaction: the endpoint opens its own short ones around its hashing.
BriefCaller = Annotated[Caller, Depends(get_caller_without_session)]
CurrentUser = Annotated[User, Depends(get_current_user)]
Hashing = Annotated[PasswordHashing, Depends(get_password_hashing)]
