from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.orm import Session

from srs.accounts.models import AuthToken, PasswordResetToken, User


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def add_user(session: Session, user: User) -> User:
    session.add(user)
    session.flush()
    return user


def add_token(session: Session, token: AuthToken) -> None:
    session.add(token)
    session.flush()


def user_of_live_token(session: Session, token_hash: str, now: datetime) -> User | None:
    """The owner of a live (unrevoked, unexpired) token, in one statement: token joined to user."""
    return session.scalar(_live_token_owner(), {"token_hash": token_hash, "now": now})


@cache
def _live_token_owner() -> Select:
    """Every request's first statement, built once: building it cost more than running it."""
    return (
        select(User)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(
            AuthToken.token_hash == bindparam("token_hash"),
            AuthToken.revoked_at.is_(None),
            AuthToken.expires_at > bindparam("now"),
        )
    )


def revoke_token(session: Session, token_hash: str, now: datetime) -> None:
    session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == token_hash, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all_tokens(
    session: Session, user_id: int, now: datetime, *, keep_hash: str | None = None
) -> int:
    """Revoke every live token of the user, except the one whose hash is `keep_hash`."""
    query = update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
    if keep_hash is not None:
        query = query.where(AuthToken.token_hash != keep_hash)
    result = session.execute(query.values(revoked_at=now))
    return result.rowcount or 0


def delete_user(session: Session, user_id: int) -> None:
    """Delete the user row; every table holding the user's data references users.id (or a
    topic or card of theirs) with ON DELETE CASCADE, so the database removes the rest in the
    same transaction."""
    session.execute(delete(User).where(User.id == user_id))


def add_reset_token(session: Session, token: PasswordResetToken) -> None:
    session.add(token)
    session.flush()


def use_reset_token(session: Session, token_hash: str, now: datetime) -> int | None:
    """Mark a live reset token used, atomically: the user id, or None if it was not live."""
    return session.scalar(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.token_hash == token_hash,
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordResetToken.user_id)
    )


def find_reset_token(session: Session, token_hash: str) -> PasswordResetToken | None:
    return session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash)
    )


def retire_reset_tokens(session: Session, user_id: int, now: datetime) -> None:
    """Older links die once the password changes."""
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
