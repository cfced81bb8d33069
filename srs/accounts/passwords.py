from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from argon2 import Parameters, extract_parameters
from argon2.exceptions import HashingError, InvalidHashError
from argon2.low_level import core, error_to_str, ffi, lib
from argon2.profiles import RFC_9106_LOW_MEMORY

from srs.kit.errors import AppError

T = TypeVar("T")

# argon2id, 64 MiB, 3 passes, 4 lanes: argon2-cffi's defaults, so hashes stored before stay
# valid and new ones look the same.
_PARAMS = RFC_9106_LOW_MEMORY

# Why not argon2-cffi's PasswordHasher: its hash and verify start one OS thread per lane (4),
# so a single password check took both cores of a 2-core machine, however small the pool
# that runs it (another learner's p99 reached 200-300 ms during a login spray, issue 13).
# The lanes are part of the hash, the threads are not: the same lanes computed one after
# another on the calling thread give the same bytes, in about the same total CPU time.


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _argon2(password: str, salt: bytes, params: Parameters) -> bytes:
    """The raw argon2 tag, computed on this thread only (threads=1, whatever the lanes)."""
    secret = password.encode()
    out = ffi.new("uint8_t[]", params.hash_len)
    pwd = ffi.new("uint8_t[]", secret or b"\0")  # never a zero-length array; pwdlen says 0
    salt_buf = ffi.new("uint8_t[]", salt)
    context = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": params.hash_len,
            "pwd": pwd,
            "pwdlen": len(secret),
            "salt": salt_buf,
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ffi.NULL,
            "adlen": 0,
            "t_cost": params.time_cost,
            "m_cost": params.memory_cost,
            "lanes": params.parallelism,
            "threads": 1,
            "version": params.version,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    result = core(context, params.type.value)
    if result != lib.ARGON2_OK:
        raise HashingError(error_to_str(result))
    return bytes(ffi.buffer(out, params.hash_len))


def hash_password(password: str) -> str:
    """The PHC string argon2-cffi would write (`$argon2id$v=19$m=65536,t=3,p=4$salt$tag`)."""
    salt = os.urandom(_PARAMS.salt_len)
    tag = _argon2(password, salt, _PARAMS)
    p = _PARAMS
    return (
        f"$argon2id$v={p.version}$m={p.memory_cost},t={p.time_cost},p={p.parallelism}"
        f"${_b64(salt)}${_b64(tag)}"
    )


def _matches(password_hash: str, password: str) -> bool:
    try:
        params = extract_parameters(password_hash)
        *_, salt_text, tag_text = password_hash.split("$")
        salt, tag = _unb64(salt_text), _unb64(tag_text)
    except (InvalidHashError, ValueError, binascii.Error):
        return False
    if params.parallelism > 255 or params.memory_cost > 1 << 20:
        return False  # not one of ours: refuse rather than allocate gigabytes
    try:
        return hmac.compare_digest(_argon2(password, salt, params), tag)
    except HashingError:
        return False


# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = hash_password("not-a-real-password")


def verify_password(password_hash: str | None, password: str) -> bool:
    return _matches(password_hash or _DUMMY_HASH, password) and password_hash is not None


class PasswordHashing:
    """Runs argon2 on a small pool of its own: one thread per two cores, each hash on one
    thread (see `_argon2`).

    Each hash takes a few hundred milliseconds of CPU and 64 MiB. Hashes wait in this pool's
    queue (holding no thread of the threadpool, which every other request needs), and a storm
    of logins leaves the other cores to everyone else, with its memory bounded. (Threads niced
    below the server starved log-ins on a busy machine: over 60 s each.)

    One address may have only `per_address` hashes waiting or running at once; past that it
    is answered 429 at once. Otherwise a spray of 30 log-ins (the per-address limit in five
    minutes) queued 30 hashes, 10 s of a core, ahead of everyone else's log-in."""

    def __init__(self, threads: int | None = None, per_address: int = 0) -> None:
        threads = threads or max(1, len(os.sched_getaffinity(0)) // 2)
        self._pool = ThreadPoolExecutor(threads, "srs-password")
        self.per_address = per_address
        self._waiting: dict[str, int] = {}  # touched on the event loop only

    async def run(self, work: Callable[..., T], *args: object, address: str | None = None) -> T:
        """`work(*args)` on the pool; with `address`, within that address's share."""
        with self.share(address):
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    @contextmanager
    def share(self, address: str | None) -> Iterator[None]:
        """One of the address's `per_address` places (None: no limit); 429 when all are taken.
        Call it on the event loop."""
        if address is None or self.per_address <= 0:
            yield
            return
        waiting = self._waiting.get(address, 0)
        if waiting >= self.per_address:
            raise AppError(
                "Too many password checks from your address at once; try again in a second",
                code="rate_limited",
                status_code=429,
                headers={"Retry-After": "1"},
            )
        self._waiting[address] = waiting + 1
        try:
            yield
        finally:
            left = self._waiting[address] - 1
            if left:
                self._waiting[address] = left
            else:
                del self._waiting[address]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
