"""`srs serve --workers N`: several API processes on PostgreSQL, refused on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.server import free_port


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    return [int(child) for child in open(path).read().split()]


def _connections_on(port: int) -> dict[str, int]:
    """Socket inode -> state, for TCP sockets whose local port is `port` (IPv4)."""
    sockets = {}
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            sockets[fields[9]] = fields[3]
    return sockets


def _established_by(pid: int, port: int) -> int:
    """How many client connections to `port` the process `pid` holds open."""
    established = {inode for inode, state in _connections_on(port).items() if state == "01"}
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in established
    return held


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
        # Sixteen learners connecting at once, each keeping its connection: both processes
        # take a share (one listening socket each), not the first one to wake all of them.
        clients = [httpx.Client(headers=headers) for _ in range(16)]
        try:
            with ThreadPoolExecutor(len(clients)) as pool:
                answers = list(pool.map(lambda c: c.get(base + "/me").status_code, clients))
            assert answers == [200] * len(clients)
            # (the children include multiprocessing's resource tracker, holding none)
            shares = sorted(_established_by(child, port) for child in _children(proc.pid))
            assert sum(shares) == 16 and shares[-2] >= 3, shares
        finally:
            for client in clients:
                client.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0  # SIGTERM stops both processes cleanly
