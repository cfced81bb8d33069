from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
NICE = 10  # how much nicer the password threads are than the server's own

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
    """Runs argon2 on its own few threads, at a lower CPU priority than the rest of the server.

    Each hash takes a few hundred milliseconds of CPU and 64 MiB. Hashes wait in this pool's
    queue (holding no thread of the threadpool, which every other request needs), at most
    one per two cores run at once, and on Linux those threads are niced: a storm of logins
    takes the CPU only when nobody else wants it, and its memory stays bounded."""

    def __init__(self, threads: int | None = None) -> None:
        threads = threads or max(1, len(os.sched_getaffinity(0)) // 2)
        self._pool = ThreadPoolExecutor(threads, "srs-password", initializer=_lower_priority)

    async def run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    # Linux sets a nice value per thread (elsewhere it would apply to the whole process).
    if sys.platform == "linux":
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + NICE
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, 19))
