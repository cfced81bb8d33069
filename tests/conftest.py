from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from srs.kit.settings import Settings
from tests.support import databases
from tests.support.server import running_app

# The in-process servers share two cores with the browser, PostgreSQL and the test itself; on a
# loaded CI machine a first response can take longer than httpx's 5 s default, which failed a
# run on a plain 401. Tests wait as long as their own clients do (the Api class below).
httpx._config.DEFAULT_TIMEOUT_CONFIG.connect = 40
httpx._config.DEFAULT_TIMEOUT_CONFIG.read = 40
httpx._config.DEFAULT_TIMEOUT_CONFIG.write = 40
httpx._config.DEFAULT_TIMEOUT_CONFIG.pool = 40


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_configure(config):
    config.addinivalue_line("markers", "db: runs against a real database")


def missing(reason: str) -> None:
    """Skip with a visible reason locally; in CI (SRS_REQUIRE_ALL=1) a missing piece fails."""
    if databases.REQUIRE_ALL:
        pytest.fail(f"required component missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    base = databases.postgres_base_url()
    if base is None:
        yield None
        return
    url = databases.create_postgres_database(base)
    yield url
    databases.drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, sqlite_template, tmp_path, postgres_url) -> str:
    """Every test that touches the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return databases.sqlite_copy(sqlite_template, tmp_path)
    if postgres_url is None:
        missing("PostgreSQL: set SRS_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres")
    databases.truncate_postgres(postgres_url)
    return postgres_url


@pytest.fixture(autouse=True)
def _seeded_random():
    # fsrs draws its fuzz from the global random module.
    random.seed(1234)


@pytest.fixture(autouse=True)
def _collected_after_each_test():
    """The suite keeps objects alive from test to test (4.6 GB by its end), and a full garbage
    collection walks all of them while every thread waits: near the end of a run that stalled
    an app for long enough to lose a job's lease or time out a browser's request, and pytest
    took 3 minutes to exit. Each test's cyclic garbage is collected after it (a small
    collection) and what survives is frozen, so no collection walks the whole heap again."""
    yield
    gc.collect()
    gc.freeze()


def make_settings(database_url: str, **overrides) -> Settings:
    values = dict(
        env="test",
        database_url=database_url,
        llm_provider="",
        secret_key="test-secret-key-" + "x" * 32,
        tick_seconds=0.5,
        lease_seconds=30,  # tests that need a lease to run out set it (or expire it) themselves
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(database_url) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def server(settings):
    with running_app(settings) as (base_url, app):
        yield base_url, app


@pytest.fixture
def base_url(server) -> str:
    return server[0]


@pytest.fixture
def app(server):
    return server[1]


class Api:
    """A signed-in API client over real HTTP."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.http = httpx.Client(base_url=base_url + "/api/v1", timeout=40)
        self.token = token
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def signup(self, email: str, password: str = "correct horse battery", **extra) -> dict:
        response = self.http.post("/auth/signup", json={"email": email, "password": password, **extra})
        assert response.status_code == 201, response.text
        body = response.json()
        self.token = body["token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        self.http.cookies.clear()  # API clients use the bearer token
        return body

    def __getattr__(self, name):
        return getattr(self.http, name)


@pytest.fixture
def api_factory(base_url):
    clients: list[Api] = []

    def make(email: str | None = None) -> Api:
        client = Api(base_url)
        if email:
            client.signup(email)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.http.close()


@pytest.fixture
def api(api_factory) -> Api:
    return api_factory("ada@example.com")
