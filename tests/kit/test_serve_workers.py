"""`srs serve --workers N`: several API processes on PostgreSQL, refused on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.server import free_port


def _env(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRS_")}
    env.update(
        SRS_DATABASE_URL=database_url,
        SRS_PORT=str(port),
        SRS_LLM_PROVIDER="",
        SRS_SECRET_KEY="test-secret-key-" + "x" * 32,
        SRS_WORKER_ENABLED="false",
    )
    return env


def test_several_api_processes_are_refused_on_sqlite(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "srs.cli", "serve", "--workers", "2"],
        env=_env(f"sqlite:///{tmp_path}/srs.db", free_port()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers needs PostgreSQL" in done.stderr


@pytest.mark.slow
def test_two_api_processes_serve_on_postgres(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        pytest.skip("several API processes are for PostgreSQL")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "srs.cli", "serve", "--workers", "2", "--no-migrate"],
        env=_env(database_url, port),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                signup = httpx.post(
                    base + "/auth/signup",
                    json={"email": "two@example.com", "password": "correct horse battery"},
                )
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "srs serve --workers 2 did not start"
                time.sleep(0.2)
        assert signup.status_code == 201
        headers = {"Authorization": f"Bearer {signup.json()['token']}"}
        assert all(
            httpx.get(base + "/me", headers=headers).status_code == 200 for _ in range(10)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
