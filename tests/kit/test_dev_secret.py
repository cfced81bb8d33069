"""In development the secret key is kept under var/ (0600), so a restart keeps sessions;
production still refuses a missing or weak key."""

from __future__ import annotations

import stat

import httpx
import pytest

from srs.kit.settings import Settings
from tests.support.server import running_app


def _development(database_url: str, var_dir) -> Settings:
    # No secret_key given: development makes (or reads) its own.
    return Settings(_env_file=None, env="development", database_url=database_url,
                    llm_provider="", var_dir=var_dir, tick_seconds=0.5)


def _cookie_write(base_url: str, cookies: dict[str, str]) -> httpx.Response:
    """A write as the web app makes it: the session cookie plus the CSRF header."""
    return httpx.post(f"{base_url}/api/v1/topics", json={"prompt": "Rivers"}, cookies=cookies,
                      headers={"X-CSRF-Token": cookies["srs_csrf"]})


def test_a_cookie_session_survives_a_restart_in_development(database_url, tmp_path):
    var_dir = tmp_path / "var"
    with running_app(_development(database_url, var_dir)) as (base_url, _app):
        signup = httpx.post(f"{base_url}/api/v1/auth/signup",
                            json={"email": "dev@example.com", "password": "correct horse battery"})
        cookies = {name: signup.cookies[name] for name in ("srs_session", "srs_csrf")}
        assert _cookie_write(base_url, cookies).status_code == 201
    secret_file = var_dir / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    with running_app(_development(database_url, var_dir)) as (base_url, _app):  # the restart
        assert _cookie_write(base_url, cookies).status_code == 201
    with running_app(_development(database_url, tmp_path / "other")) as (base_url, _app):
        refused = _cookie_write(base_url, cookies)  # another key: the proof the key is what counts
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"


def test_production_still_refuses_a_missing_or_weak_key(tmp_path):
    for weak in ({}, {"secret_key": "short"}):
        with pytest.raises(ValueError, match="SRS_SECRET_KEY"):
            Settings(_env_file=None, env="production", var_dir=tmp_path, **weak)
    assert not (tmp_path / "secret_key").exists()  # production never writes one
