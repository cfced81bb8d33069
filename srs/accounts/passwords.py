from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
    """Runs argon2 on a small pool of its own: one thread per two cores.

    Each hash takes a few hundred milliseconds of CPU and 64 MiB. Hashes wait in this pool's
    queue (holding no thread of the threadpool, which every other request needs), and a storm
    of logins leaves the other cores to everyone else, with its memory bounded. (Threads niced
    below the server starved log-ins on a busy machine: over 60 s each.)"""

    def __init__(self, threads: int | None = None) -> None:
        threads = threads or max(1, len(os.sched_getaffinity(0)) // 2)
        self._pool = ThreadPoolExecutor(threads, "srs-password")

    async def run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
