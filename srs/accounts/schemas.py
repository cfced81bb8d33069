from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

MIN_PASSWORD = 8
MAX_PASSWORD = 256


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class SignupIn(Credentials):
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    timezone: str = Field("UTC", max_length=64)

    @field_validator("password")
    @classmethod
    def _strong_enough(cls, value: str) -> str:
        if value.strip() == "" or len(set(value)) < 4:
            raise ValueError("password is too simple: use at least 8 characters, not repeated")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}")
        return value


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    timezone: str
    plan: str
    desired_retention: float
    fsrs_fitted: bool = False
    created_at: datetime


class AuthOut(BaseModel):
    token: str
    user: UserOut


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(None, max_length=64)
    desired_retention: float | None = Field(None, ge=0.70, le=0.97)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}")
        return value
