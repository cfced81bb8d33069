"""Sign-up, log-in, tokens. Tokens are random; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from srs.accounts import repository
from srs.accounts.models import AuthToken, User
from srs.accounts.passwords import hash_password, verify_password
from srs.accounts.schemas import Credentials, SignupIn, UserPatch
from srs.kit.db import utcnow
from srs.kit.errors import AppError, conflict, unauthorized


@dataclass(frozen=True)
class Issued:
    token: str
    user: User


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret_key: str, token: str) -> str:
    """The double-submit value for a cookie session: readable by our page, unguessable elsewhere."""
    return hmac.new(secret_key.encode(), b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _issue(session: Session, user: User, kind: str, days: int) -> Issued:
    token = "srs_" + secrets.token_urlsafe(32)
    now = utcnow()
    repository.add_token(
        session,
        AuthToken(
            user_id=user.id,
            token_hash=token_hash(token),
            kind=kind,
            created_at=now,
            expires_at=now + timedelta(days=days),
        ),
    )
    return Issued(token=token, user=user)


def signup(session: Session, data: SignupIn, *, kind: str, days: int) -> Issued:
    if repository.get_user_by_email(session, data.email):
        raise conflict("An account with this email already exists")
    user = User(
        email=data.email,
        password_hash=hash_password(data.password),
        timezone=data.timezone,
        plan_anchor=utcnow(),
    )
    try:
        with session.begin_nested():
            repository.add_user(session, user)
    except IntegrityError:  # a concurrent sign-up with the same email won the race
        raise conflict("An account with this email already exists") from None
    return _issue(session, user, kind, days)


def login(session: Session, data: Credentials, *, kind: str, days: int) -> Issued:
    user = repository.get_user_by_email(session, data.email)
    if not verify_password(user.password_hash if user else None, data.password) or user is None:
        raise AppError("Wrong email or password", code="bad_credentials", status_code=401)
    return _issue(session, user, kind, days)


def authenticate(session: Session, token: str) -> User:
    found = repository.find_live_token(session, token_hash(token), utcnow())
    if found is None:
        raise unauthorized("Your session has expired or was revoked; please log in again")
    user = repository.get_user(session, found.user_id)
    if user is None:
        raise unauthorized()
    return user


def logout(session: Session, token: str) -> None:
    repository.revoke_token(session, token_hash(token), utcnow())


def logout_everywhere(session: Session, user: User) -> int:
    return repository.revoke_all_tokens(session, user.id, utcnow())


def update_user(session: Session, user: User, patch: UserPatch) -> User:
    if patch.timezone is not None:
        user.timezone = patch.timezone
    if patch.desired_retention is not None:
        user.desired_retention = patch.desired_retention
    session.flush()
    return user
