"""Password hashes: one check takes one core, and stored hashes stay valid (issue 13)."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher

from srs.accounts.passwords import hash_password, verify_password


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_a_password_check_runs_on_the_calling_thread_alone():
    # argon2-cffi starts one thread per lane (4) for every hash and check: one log-in took
    # both cores of a 2-core server, and another learner's p99 reached 200-300 ms during a
    # login spray however small the pool that ran it.
    stored = hash_password("correct horse battery")
    before, peak, stop = _threads(), [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _threads())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert verify_password(stored, "correct horse battery")
        assert not verify_password(stored, "wrong password 1")
        assert not verify_password(None, "wrong password 1")  # unknown email: the dummy hash
        hash_password("another good password")
    finally:
        stop.set()
        watcher.join()
    assert peak[0] <= before + 1, f"{peak[0] - before - 1} threads started by argon2"


def test_hashes_stored_before_still_verify_and_new_ones_read_the_same():
    library = PasswordHasher()  # what stored every hash so far
    old = library.hash("correct horse battery")
    assert verify_password(old, "correct horse battery")
    assert not verify_password(old, "correct horse batterY")
    new = hash_password("correct horse battery")
    assert new.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert library.verify(new, "correct horse battery")
    assert not verify_password(new[:-4] + "AAAA", "correct horse battery")
    assert not verify_password("not a hash", "correct horse battery")
