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
from srs.accounts.models import AuthToken, PasswordResetToken, User
from srs.accounts.passwords import hash_password, verify_password
from srs.accounts.schemas import SignupIn, UserPatch
from srs.kit.db import utcnow
from srs.kit.errors import AppError, conflict, unauthorized
from srs.kit.settings import Settings


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


# Hashing and checking a password (argon2) takes a few hundred milliseconds of CPU. It never
# runs inside a transaction: the endpoints read, close the transaction, hash in the
# threadpool, then write in a second short transaction. Holding SQLite's write turn (or a
# PostgreSQL connection) across it made 60 logins stall everyone else's writes for seconds.


@dataclass(frozen=True)
class NewAccount:
    data: SignupIn
    password_hash: str


def prepare_signup(data: SignupIn) -> NewAccount:
    """Blocking (argon2): call it with no transaction open."""
    return NewAccount(data=data, password_hash=hash_password(data.password))


def signup(session: Session, new: NewAccount, *, kind: str, days: int) -> Issued:
    data = new.data
    if repository.get_user_by_email(session, data.email):
        raise conflict("An account with this email already exists")
    user = User(
        email=data.email,
        password_hash=new.password_hash,
        timezone=data.timezone,
        plan_anchor=utcnow(),
    )
    try:
        with session.begin_nested():
            repository.add_user(session, user)
    except IntegrityError:  # a concurrent sign-up with the same email won the race
        raise conflict("An account with this email already exists") from None
    return _issue(session, user, kind, days)


@dataclass(frozen=True)
class LoginCandidate:
    """The account an email names (None: no such account), as read before the password check."""

    user_id: int | None
    password_hash: str | None


def _bad_credentials() -> AppError:
    return AppError("Wrong email or password", code="bad_credentials", status_code=401)


def find_login(session: Session, email: str) -> LoginCandidate:
    user = repository.get_user_by_email(session, email)
    return LoginCandidate(user.id, user.password_hash) if user else LoginCandidate(None, None)


def check_login(candidate: LoginCandidate, password: str) -> None:
    """Blocking (argon2, as long for an unknown email): call it with no transaction open."""
    if not verify_password(candidate.password_hash, password) or candidate.user_id is None:
        raise _bad_credentials()


def issue_login(session: Session, candidate: LoginCandidate, *, kind: str, days: int) -> Issued:
    """A token for a checked login, unless the account went or its password changed since."""
    user = repository.get_user(session, candidate.user_id) if candidate.user_id else None
    if user is None or user.password_hash != candidate.password_hash:
        raise _bad_credentials()
    return _issue(session, user, kind, days)


def authenticate(session: Session, token: str) -> User:
    """The token's user, read in the caller's session (so the request's own transaction)."""
    user = repository.user_of_live_token(session, token_hash(token), utcnow())
    if user is None:  # unknown, expired, revoked, or its account deleted (the token went too)
        raise unauthorized("Your session has expired or was revoked; please log in again")
    return user


def user_still_present(session: Session, user_id: int) -> User:
    """A user authenticated earlier in the request (a long-poll's first read), read again:
    401 once the account is gone."""
    user = repository.get_user(session, user_id)
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
    if "new_cards_per_day" in patch.model_fields_set:
        user.new_cards_per_day = patch.new_cards_per_day
    session.flush()
    return user


def new_cards_per_day(user: User, settings: Settings) -> int:
    """The learner's daily new-card default (a topic may override it)."""
    if user.new_cards_per_day is not None:
        return user.new_cards_per_day
    return settings.new_cards_per_day


def _confirm_password(password_hash: str, password: str) -> None:
    # 403, not 401: the session is fine, only this confirmation failed (and the web app
    # treats any 401 as "signed out").
    if not verify_password(password_hash, password):
        raise AppError("The password is not right", code="wrong_password", status_code=403)


# Password changes, account deletion and resets hash in two steps, like sign-up and log-in: the
# argon2 work (`confirm_*`, `prepare_*`) runs with no transaction open, then a short write checks
# that the stored hash is still the one confirmed, so a change made meanwhile is never overwritten
# by a confirmation of the old password.


@dataclass(frozen=True)
class PasswordChange:
    user_id: int
    confirmed_hash: str
    new_hash: str


def confirm_password_change(user: User, current_password: str, new_password: str) -> PasswordChange:
    """Blocking (argon2 twice): call it with no transaction open."""
    _confirm_password(user.password_hash, current_password)
    return PasswordChange(user.id, user.password_hash, hash_password(new_password))


def change_password(session: Session, change: PasswordChange, keep_token: str) -> None:
    """New password; every other session and token is revoked, the caller's is kept."""
    user = _still_confirmed(session, change.user_id, change.confirmed_hash)
    _set_password(session, user, change.new_hash, keep_hash=token_hash(keep_token))


def _still_confirmed(session: Session, user_id: int, confirmed_hash: str) -> User:
    user = repository.get_user(session, user_id)
    if user is None:
        raise unauthorized("Your session has expired or was revoked; please log in again")
    if user.password_hash != confirmed_hash:
        raise AppError(
            "The password changed meanwhile; try again with the new one",
            code="wrong_password",
            status_code=403,
        )
    return user


def _set_password(session: Session, user: User, new_hash: str, *, keep_hash: str | None) -> None:
    now = utcnow()
    user.password_hash = new_hash
    repository.revoke_all_tokens(session, user.id, now, keep_hash=keep_hash)
    repository.retire_reset_tokens(session, user.id, now)
    session.flush()


def confirm_deletion(user: User, password: str) -> str:
    """Blocking (argon2): call it with no transaction open. The hash that was confirmed."""
    _confirm_password(user.password_hash, password)
    return user.password_hash


def delete_account(session: Session, user_id: int, confirmed_hash: str) -> None:
    """The user and all their data, in one transaction. A paid subscription must be cancelled
    first: our rows would go, but Stripe would go on charging a customer nobody can reach."""
    user = _still_confirmed(session, user_id, confirmed_hash)
    if user.plan != "free" and user.stripe_customer_id is not None:
        raise AppError(
            "Cancel your subscription first (Usage, Manage billing); then delete the account",
            code="subscription_active",
            status_code=409,
        )
    repository.delete_user(session, user.id)


@dataclass(frozen=True)
class ResetLink:
    email: str
    token: str


def start_password_reset(session: Session, email: str, minutes: int) -> ResetLink | None:
    """A single-use reset token for the account with this email; None when there is none
    (the caller answers the same either way, so nobody learns which emails have accounts)."""
    user = repository.get_user_by_email(session, email)
    if user is None:
        return None
    token = "rst_" + secrets.token_urlsafe(32)
    now = utcnow()
    repository.add_reset_token(
        session,
        PasswordResetToken(
            user_id=user.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        ),
    )
    return ResetLink(email=user.email, token=token)


def prepare_reset_password(new_password: str) -> str:
    """Blocking (argon2): call it with no transaction open, before the token is spent."""
    return hash_password(new_password)


def finish_password_reset(session: Session, token: str, new_hash: str) -> User:
    """Set the new password with a live reset token (once); every session is revoked."""
    hashed = token_hash(token)
    user_id = repository.use_reset_token(session, hashed, utcnow())
    if user_id is None:
        raise _reset_refused(repository.find_reset_token(session, hashed))
    user = repository.get_user(session, user_id)
    if user is None:  # the account was deleted; the token went with it
        raise _reset_refused(None)
    _set_password(session, user, new_hash, keep_hash=None)
    return user


def _reset_refused(found: PasswordResetToken | None) -> AppError:
    if found is None:
        reason = "This reset link is not valid"
    elif found.used_at is not None:
        reason = "This reset link was already used (or the password changed since)"
    else:
        reason = "This reset link has expired"
    return AppError(
        f"{reason}; ask for a new one from the log-in page",
        code="reset_token_invalid",
        status_code=400,
    )
