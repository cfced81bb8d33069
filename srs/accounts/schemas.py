from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, field_validator

MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_NEW_CARDS_PER_DAY = 1000


@lru_cache(maxsize=1)
def known_zones() -> tuple[str, ...]:
    """IANA zone names this server can use, sorted (read once: the scan walks the disk)."""
    return tuple(sorted(available_timezones()))


def _known_zone(value: str | None) -> str | None:
    if value is not None and value not in set(known_zones()):
        raise ValueError(f"unknown time zone {value!r}")
    return value


def _strong_enough(value: str) -> str:
    if value.strip() == "" or len(set(value)) < 4:
        raise ValueError("password is too simple: use at least 8 characters, not repeated")
    return value


def _email(value: str) -> str:
    return value.strip().lower()


def _new_password():
    return Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)

    _lower = field_validator("email")(_email)


class SignupIn(Credentials):
    password: str = _new_password()
    timezone: str = Field("UTC", max_length=64)

    _strong = field_validator("password")(_strong_enough)
    _zone = field_validator("timezone")(_known_zone)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    timezone: str
    plan: str
    desired_retention: float
    # The learner's own daily new-card default, or the server's when they chose none.
    new_cards_per_day: int
    fsrs_fitted: bool = False
    created_at: datetime


class AuthOut(BaseModel):
    token: str
    user: UserOut


class UserPatch(BaseModel):
    """`time_zone` (the contract's name) and `timezone` (the user's field) are the same."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(
        None, max_length=64, validation_alias=AliasChoices("timezone", "time_zone")
    )
    desired_retention: float | None = Field(None, ge=0.70, le=0.97)
    # null goes back to the server's default.
    new_cards_per_day: int | None = Field(None, ge=0, le=MAX_NEW_CARDS_PER_DAY)

    _zone = field_validator("timezone")(_known_zone)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    new_password: str = _new_password()

    _strong = field_validator("new_password")(_strong_enough)


class PasswordIn(BaseModel):
    """The password again, to confirm something that cannot be undone."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class ResetRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)

    _lower = field_validator("email")(_email)


class ResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    new_password: str = _new_password()

    _strong = field_validator("new_password")(_strong_enough)


class ResetAvailability(BaseModel):
    available: bool


class TimeZonesOut(BaseModel):
    zones: list[str]
