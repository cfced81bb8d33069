"""The OpenAI-compatible provider against the scripted server over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from srs.llm import LLMRequest, OpenAIProvider, Usage
from tests.support.llm_server import DEFAULT_TEXT, Reply, ScriptedLLMServer, collect

pytestmark = pytest.mark.anyio

REQUEST = LLMRequest(system="You write flashcards.", user="Cards about France.",
                     completion_prompt="unused", max_tokens=500, temperature=0.3)


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def provider(server: ScriptedLLMServer, *, chunk_timeout: float = 2.0, deadline: float = 10.0,
             max_retries: int = 2) -> OpenAIProvider:
    return OpenAIProvider(base_url=server.base_url, api_key="sk-test", model="gpt-test",
                          connect_timeout=2.0, chunk_timeout=chunk_timeout, deadline=deadline,
                          max_retries=max_retries, backoff_base=0.01)


async def test_streams_text_then_usage(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(input_tokens=42, output_tokens=17)])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is None
    assert result.text == DEFAULT_TEXT
    assert len(result.arrivals) > 1  # several deltas, not one block
    assert result.usage == [Usage(42, 17)]
    [sent] = llm_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["messages"] == [
        {"role": "system", "content": "You write flashcards."},
        {"role": "user", "content": "Cards about France."},
    ]
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert (sent.json["model"], sent.json["max_tokens"], sent.json["temperature"]) == (
        "gpt-test", 500, 0.3)


async def test_a_server_without_usage_gets_an_estimate(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(text="a" * 400, send_usage=False)])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is None
    assert result.usage == [Usage(input_tokens=10, output_tokens=100, estimated=True)]


async def test_a_cut_stream_keeps_its_text_and_raises_stream_error(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script([Reply(disconnect_after_chars=30)])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.text == DEFAULT_TEXT[:30]
    assert result.usage == []
    assert result.error is not None and result.error.kind == "stream_error"
    assert result.error.retryable
    assert len(llm_server.requests) == 1  # text had been delivered: never restarted


async def test_a_cut_before_any_text_is_retried(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(disconnect_after_chars=0), Reply()])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is None and result.text == DEFAULT_TEXT
    assert len(llm_server.requests) == 2


async def test_429_honours_retry_after_then_streams_once(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(status=429, headers={"Retry-After": "0.3"}), Reply()])
    started = time.monotonic()

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is None
    assert result.text == DEFAULT_TEXT  # one stream's text, not two
    assert len(result.usage) == 1
    assert len(llm_server.requests) == 2
    assert llm_server.requests[1].at - llm_server.requests[0].at >= 0.3
    assert time.monotonic() - started < 2


async def test_retry_after_past_the_deadline_is_not_waited_for(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script([Reply(status=429, headers={"Retry-After": "60"})])
    started = time.monotonic()

    result = await collect(provider(llm_server, deadline=5).stream(REQUEST))

    assert result.error is not None and result.error.kind == "rate_limited"
    assert result.error.retry_after == 60  # the caller can reschedule the job
    assert time.monotonic() - started < 1


async def test_repeated_500_ends_in_server_error_with_the_providers_message(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.default = Reply(status=500, error_message="The engine is currently overloaded")

    result = await collect(provider(llm_server, max_retries=2).stream(REQUEST))

    assert result.error is not None and result.error.kind == "server_error"
    assert "The engine is currently overloaded" in result.error.message
    assert len(llm_server.requests) == 3  # the first try and two retries


async def test_401_is_not_retried(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(status=401, error_message="Incorrect API key provided")])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is not None and result.error.kind == "auth"
    assert not result.error.retryable
    assert "Incorrect API key provided" in result.error.message
    assert len(llm_server.requests) == 1


async def test_400_is_not_retried(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(status=400, error_message="max_tokens is too large")])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is not None and result.error.kind == "bad_request"
    assert len(llm_server.requests) == 1


async def test_a_silent_server_hits_the_chunk_timeout(llm_server: ScriptedLLMServer) -> None:
    llm_server.default = Reply(hang=True)
    started = time.monotonic()

    result = await collect(provider(llm_server, chunk_timeout=0.3, max_retries=1).stream(REQUEST))

    elapsed = time.monotonic() - started
    assert result.error is not None and result.error.kind == "timeout"
    assert result.error.stalled and result.error.retryable  # retried as a job, later
    assert "stalled: nothing came for 0.3s" in result.error.message
    # Headers, then silence: not retried inside the stream, so the slot is free at once.
    assert len(llm_server.requests) == 1
    assert 0.3 <= elapsed < 0.8


async def test_keep_alives_without_text_hit_the_chunk_timeout(
    llm_server: ScriptedLLMServer,
) -> None:
    # Every read brings bytes (so httpx's per-read timeout never fires), but no more text.
    llm_server.default = Reply(text="<cards>", keep_alive_every=0.05)
    started = time.monotonic()

    result = await collect(provider(llm_server, chunk_timeout=0.4).stream(REQUEST))

    assert result.error is not None and result.error.stalled
    assert result.text == "<cards>"
    assert len(llm_server.requests) == 1
    assert 0.4 <= time.monotonic() - started < 1.0


async def test_a_stall_after_text_times_out_without_a_retry(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script([Reply(stall_after_chars=12)])

    result = await collect(provider(llm_server, chunk_timeout=0.3).stream(REQUEST))

    assert result.error is not None and result.error.kind == "timeout"
    assert result.text == DEFAULT_TEXT[:12]
    assert len(llm_server.requests) == 1


async def test_a_slow_stream_hits_the_overall_deadline(llm_server: ScriptedLLMServer) -> None:
    # Every chunk comes well within the chunk timeout; the whole would take 10 s.
    llm_server.script([Reply(text="y" * 100, chunk_chars=1, tokens_per_second=10)])
    started = time.monotonic()

    result = await collect(provider(llm_server, chunk_timeout=1, deadline=0.5).stream(REQUEST))

    elapsed = time.monotonic() - started
    assert result.error is not None and result.error.kind == "timeout"
    assert not result.error.retryable
    assert "deadline" in result.error.message
    assert 0 < len(result.text) < 100
    assert 0.45 <= elapsed < 0.9


async def test_an_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = OpenAIProvider(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1,
                                 backoff_base=0.01)

    result = await collect(unreachable.stream(REQUEST))

    assert result.error is not None and result.error.kind == "connection"
    assert result.error.retryable


async def test_an_error_inside_the_stream_is_raised(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(text="<cards>", error_event="server_error",
                             error_message="upstream model crashed")])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.text == "<cards>"
    assert result.error is not None and result.error.kind == "server_error"
    assert "upstream model crashed" in result.error.message


async def test_a_shared_client_is_left_open() -> None:
    async with httpx.AsyncClient() as client:
        shared = OpenAIProvider(client=client)
        await shared.aclose()
        assert not client.is_closed
