"""Log-in attempts are limited per IP across emails, not only per IP and email."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import make_settings
from tests.support.server import running_app

SPRAY = 20


def test_spraying_many_emails_from_one_ip_is_rate_limited(database_url):
    settings = make_settings(database_url, rate_login_ip_per_5min=3)
    with running_app(settings) as (base_url, _app), httpx.Client(base_url=base_url) as http:
        statuses = [
            http.post(
                "/api/v1/auth/login",
                json={"email": f"nobody{i}@example.com", "password": "wrong password 1"},
            ).status_code
            for i in range(5)
        ]
    assert statuses == [401, 401, 401, 429, 429]


def test_a_spray_from_one_address_does_not_hold_up_log_ins_from_others(database_url):
    # Concurrent log-ins from one address beyond its share of the password hashing are
    # refused at once: before, the spray's 30 allowed checks queued ahead of everyone's log-in.
    settings = make_settings(database_url, password_checks_per_address=2, worker_enabled=False)
    with running_app(settings) as (base_url, _app), httpx.Client(base_url=base_url) as http:
        http.post(
            "/api/v1/auth/signup",
            json={"email": "learner@example.com", "password": "correct horse battery"},
        ).raise_for_status()

        def login(address: str, email: str, password: str) -> tuple[int, float]:
            started = time.monotonic()
            response = http.post(
                "/api/v1/auth/login",
                json={"email": email, "password": password},
                headers={"X-Forwarded-For": address},  # uvicorn trusts it from 127.0.0.1
            )
            return response.status_code, time.monotonic() - started

        _, alone = login("10.0.0.2", "learner@example.com", "correct horse battery")
        with ThreadPoolExecutor(SPRAY) as pool:
            spray = [
                pool.submit(login, "10.0.0.1", f"nobody{i}@example.com", "wrong password 1")
                for i in range(SPRAY)
            ]
            time.sleep(0.3)  # the spray's requests are all in
            status, during = login("10.0.0.2", "learner@example.com", "correct horse battery")
            sprayed = Counter(future.result()[0] for future in spray)
    assert status == 200
    assert sprayed[429] >= SPRAY - 2 - 1 and sprayed[401] >= 1, sprayed  # one may end early
    # Before: behind the spray's queue of 20 hashes, about 20 times as long as alone.
    assert during < 6 * alone + 0.5, (during, alone)
