"""Rate limits, security headers, session expiry and production settings."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import update

from srs.accounts.models import AuthToken
from srs.kit.db import Database, utcnow
from srs.kit.settings import Settings
from tests.conftest import Api, make_settings
from tests.support.server import running_app


def test_signup_and_login_are_rate_limited(database_url):
    settings = make_settings(database_url, rate_signup_per_hour=2, rate_login_per_5min=3)
    with running_app(settings) as (base_url, _app), httpx.Client(base_url=base_url + "/api/v1") as http:
        for i in range(2):
            assert http.post("/auth/signup", json={"email": f"r{i}@example.com", "password": "long enough pass"}).status_code == 201
        refused = http.post("/auth/signup", json={"email": "r9@example.com", "password": "long enough pass"})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0
        for _ in range(3):
            assert http.post("/auth/login", json={"email": "r0@example.com", "password": "wrong password"}).status_code == 401
        locked = http.post("/auth/login", json={"email": "r0@example.com", "password": "long enough pass"})
        assert locked.status_code == 429
        # Another account from the same address is not locked out by r0's guesses.
        assert http.post("/auth/login", json={"email": "r1@example.com", "password": "long enough pass"}).status_code == 200


def test_security_headers_on_api_and_web(base_url):
    for path in ("/healthz", "/api/v1/topics", "/"):
        response = httpx.get(base_url + path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-request-id"]


def test_expired_session_is_refused(database_url, base_url):
    api = Api(base_url)
    api.signup("old@example.com")
    assert api.get("/me").status_code == 200
    db = Database(database_url)
    with db.transaction() as s:
        s.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.dispose()
    response = api.get("/me")
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_production_refuses_a_missing_or_weak_secret_key():
    with pytest.raises(ValidationError, match="SRS_SECRET_KEY"):
        Settings(_env_file=None, env="production")
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(_env_file=None, env="production", secret_key="short")
    assert Settings(_env_file=None, env="production", secret_key="k" * 40).env == "production"
