from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from srs.kit.db import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    desired_retention: Mapped[float] = mapped_column(Float, default=0.9)
    # The learner's daily new-card default; None follows the server's SRS_NEW_CARDS_PER_DAY.
    new_cards_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    # Per-learner FSRS parameters once fitted; None means the library defaults.
    fsrs_parameters: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    fsrs_fitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    fsrs_fitted_reviews: Mapped[int] = mapped_column(Integer, default=0)
    plan: Mapped[str] = mapped_column(String(32), default="free")
    plan_anchor: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The `created` time of the last billing event applied: older events arriving late are ignored.
    plan_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthToken(Base):
    """A bearer token or a browser session; only its SHA-256 is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "api" | "session"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PasswordResetToken(Base):
    """A single-use link sent by email; only its SHA-256 is stored, so a database leak
    cannot be turned into password resets."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
