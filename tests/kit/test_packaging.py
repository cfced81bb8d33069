"""A normal install works: the wheel carries the Alembic scripts and the web app, so a fresh
venv can `srs migrate && srs serve` and serve `/` and `/healthz`. Offline and quick: the
wheel is built without build isolation, and the fresh venv takes its dependencies from the
environment running the tests (a .pth line), never from an index."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing
from tests.support.server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "alembic.ini",
           "srs", "migrations", "web")


def _build_wheel(tmp_path: Path) -> Path:
    if importlib.util.find_spec("setuptools") is None:
        missing("setuptools (the dev extra) to build the wheel")
    import setuptools

    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (70, 1):
        missing("setuptools >= 70.1 (the dev extra): older ones need the wheel package")
    source = tmp_path / "source"  # a copy: building leaves build/ and egg-info behind
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, text=True,
    )
    [wheel] = (tmp_path / "dist").glob("srs-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--ignore-installed", "-q", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    # Then the dependencies, from the running environment (srs itself only from the wheel).
    (Path(site) / "srs-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_installs_migrates_and_serves_the_web_app(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = _fresh_venv(tmp_path, wheel)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRS_") and k != "PYTHONPATH"}
    env.update(SRS_DATABASE_URL=f"sqlite:///{run_dir / 'srs.db'}", SRS_LLM_PROVIDER="",
               SRS_ENV="development", SRS_PORT=str(port))
    where = subprocess.run([venv / "bin" / "python", "-c", "import srs; print(srs.__file__)"],
                           cwd=run_dir, env=env, check=True, capture_output=True, text=True)
    assert where.stdout.startswith(str(venv)), where.stdout  # not the checkout
    migrated = subprocess.run([venv / "bin" / "srs", "migrate"], cwd=run_dir, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stderr
    assert "database at head" in migrated.stdout
    server = subprocess.Popen([venv / "bin" / "srs", "serve"], cwd=run_dir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        health = _wait_for_health(base, server)
        page = httpx.get(base + "/")
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert health.json() == {"status": "ok"}, output
    assert page.status_code == 200 and "<title>srs" in page.text, output
    assert (run_dir / "var" / "secret_key").is_file()  # development keeps its key


def _wait_for_health(base: str, server: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"srs serve exited: {server.communicate()[0]}")
        try:
            response = httpx.get(base + "/healthz", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("srs serve did not answer /healthz within 60 s")
