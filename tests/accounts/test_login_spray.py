"""Log-in attempts are limited per IP across emails, not only per IP and email."""

from __future__ import annotations

import httpx

from tests.conftest import make_settings
from tests.support.server import running_app


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
