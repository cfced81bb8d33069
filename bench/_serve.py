"""`srs serve` (and separate `srs worker` processes) as subprocesses for the benchmarks that
measure the deployment docker-compose.yml describes, talking to a scripted model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import free_port

COMMAND = [sys.executable, "-m", "srs.cli", "--log-level", "warning"]


def scripted_env(database_url: str, llm_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without its SRS_ settings, pointed at the database and the
    scripted model, plus `settings` (SRS_ names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRS_")}
    env.update(
        SRS_DATABASE_URL=database_url, SRS_LLM_PROVIDER="openai", SRS_LLM_BASE_URL=llm_url,
        SRS_LLM_API_KEY="bench", SRS_LLM_MODEL="scripted", **settings,
    )
    return env


def start_app(env: dict[str, str], workdir: Path, workers: int = 0) -> tuple[list[subprocess.Popen], str]:
    """`srs serve` on a free port, and once it answers `workers` separate `srs worker`
    processes (the API's own worker is then off). The first process is the API."""
    port = free_port()
    env = dict(env, SRS_PORT=str(port))
    quiet = {"cwd": workdir, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    api_env = dict(env, SRS_WORKER_ENABLED=str(workers == 0).lower())
    procs = [subprocess.Popen([*COMMAND, "serve"], env=api_env, **quiet)]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and procs[0].poll() is None:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                procs += [
                    subprocess.Popen([*COMMAND, "worker"], env=env, **quiet) for _ in range(workers)
                ]
                return procs, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    procs[0].kill()
    raise RuntimeError("srs serve did not start")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
