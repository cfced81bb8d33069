"""The Anthropic provider against the scripted server over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from srs.llm import AnthropicProvider, LLMRequest, Usage
from tests.support.llm_server import DEFAULT_TEXT, Reply, ScriptedLLMServer, collect

pytestmark = pytest.mark.anyio

REQUEST = LLMRequest(system="You write flashcards.", user="Cards about Rome.",
                     completion_prompt="unused", max_tokens=300)


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def provider(server: ScriptedLLMServer, *, max_retries: int = 2) -> AnthropicProvider:
    return AnthropicProvider(base_url=server.base_url, api_key="ak-test", chunk_timeout=2.0,
                             deadline=10.0, max_retries=max_retries, backoff_base=0.01)


async def test_streams_text_and_cumulative_usage_through_pings(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script([Reply(input_tokens=25, output_tokens=31)])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is None
    assert result.text == DEFAULT_TEXT
    assert result.usage == [Usage(25, 31)]
    [sent] = llm_server.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "ak-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json["system"] == "You write flashcards."
    assert sent.json["messages"] == [{"role": "user", "content": "Cards about Rome."}]
    assert (sent.json["stream"], sent.json["max_tokens"], sent.json["model"]) == (
        True, 300, "claude-haiku-4-5")


async def test_an_error_event_after_text_is_raised_not_retried(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script([Reply(text="<cards><card>", error_event="overloaded_error",
                             error_message="Overloaded")])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.text == "<cards><card>"
    assert result.error is not None and result.error.kind == "overloaded"
    assert result.error.retryable
    assert "Overloaded" in result.error.message
    assert len(llm_server.requests) == 1


async def test_an_error_event_before_any_text_is_retried(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([Reply(text="", error_event="overloaded_error"), Reply()])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.error is None and result.text == DEFAULT_TEXT
    assert len(llm_server.requests) == 2


async def test_529_is_overloaded(llm_server: ScriptedLLMServer) -> None:
    llm_server.default = Reply(status=529, error_message="Overloaded")

    result = await collect(provider(llm_server, max_retries=1).stream(REQUEST))

    assert result.error is not None and result.error.kind == "overloaded"
    assert len(llm_server.requests) == 2


async def test_a_stream_without_message_stop_is_a_stream_error(
    llm_server: ScriptedLLMServer,
) -> None:
    llm_server.script([Reply(disconnect_after_chars=20)])

    result = await collect(provider(llm_server).stream(REQUEST))

    assert result.text == DEFAULT_TEXT[:20]
    assert result.usage == []
    assert result.error is not None and result.error.kind == "stream_error"
