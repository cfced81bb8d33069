from __future__ import annotations

import time

import pytest

from tests.conftest import make_settings
from tests.support.llm_server import ScriptedLLMServer
from tests.support.server import running_app


@pytest.fixture
def llm():
    with ScriptedLLMServer() as server:
        yield server


def llm_settings(database_url: str, llm: ScriptedLLMServer, **overrides):
    values = dict(
        llm_provider="openai",
        llm_base_url=llm.base_url,
        llm_api_key="test-key",
        llm_model="scripted-model",
        llm_retry_delay=0.05,
        llm_chunk_timeout=2.0,
        llm_deadline=30.0,
        llm_max_retries=2,
    )
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture
def gen_settings(database_url, llm):
    return llm_settings(database_url, llm)


@pytest.fixture
def server(gen_settings):
    with running_app(gen_settings) as (base_url, app):
        yield base_url, app


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
