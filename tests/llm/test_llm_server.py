"""The scripted server itself: real streaming, recorded requests, provider-shaped errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise

import httpx
import pytest

from tests.support.llm_server import Reply, ScriptedLLMServer


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def test_chunks_arrive_one_by_one_at_the_scripted_pace(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(text="x" * 40, chunk_chars=4, tokens_per_second=20)])
    arrivals = []
    with httpx.stream("POST", llm_server.base_url + "/chat/completions", json={}) as response:
        for line in response.iter_lines():
            if '"content": "xxxx"' in line:
                arrivals.append(time.monotonic())

    assert len(arrivals) == 10
    # 10 chunks at 20 per second: a buffered body would arrive all at once at the end.
    assert arrivals[-1] - arrivals[0] >= 0.4
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert min(gaps) >= 0.02
    sent = [at for at, _ in llm_server.emitted[0]]
    assert max(abs(got - left) for got, left in zip(arrivals, sent)) < 0.1
    assert llm_server.emitted[0][-1][1] == "x" * 40


def test_requests_are_recorded_and_the_script_falls_back_to_the_default(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.default = Reply(status=503, error_message="down for maintenance")
    llm_server.script([Reply(status=429, headers={"Retry-After": "7"})])

    first = httpx.post(llm_server.base_url + "/messages", json={"model": "m"})
    second = httpx.post(llm_server.base_url + "/chat/completions", json={"model": "n"})

    assert first.status_code == 429 and first.headers["retry-after"] == "7"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert second.status_code == 503
    assert second.json()["error"]["message"] == "down for maintenance"
    assert [(r.path, r.json) for r in llm_server.requests] == [
        ("/v1/messages", {"model": "m"}),
        ("/v1/chat/completions", {"model": "n"}),
    ]
