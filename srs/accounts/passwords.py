from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordHashing:
    """Runs argon2 in the threadpool, at most `limit` at once; the rest wait on the event loop.

    Each hash takes a few hundred milliseconds of CPU and 64 MiB: a storm of logins then holds
    neither the threadpool (which every other request needs) nor memory beyond the limit."""

    def __init__(self, limit: int | None = None) -> None:
        self._gate = asyncio.Semaphore(limit or max(1, len(os.sched_getaffinity(0))))

    async def run(self, work: Callable[..., T], *args: object) -> T:
        async with self._gate:
            return await run_in_threadpool(work, *args)
