"""Choosing the provider from settings, and reading server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from srs.kit.settings import Settings
from srs.llm import AnthropicProvider, LLMError, OpenAIProvider, build_provider
from srs.llm._http import SSEEvent, sse_events


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, env="test", **values)


def test_no_provider_is_not_configured_and_says_how_to_fix_it() -> None:
    with pytest.raises(LLMError) as raised:
        build_provider(settings(llm_provider=""))

    assert raised.value.kind == "not_configured"
    assert not raised.value.retryable
    assert "SRS_LLM_PROVIDER=openai" in raised.value.message
    assert "pip install '.[local]'" in raised.value.message


def test_openai_takes_its_settings() -> None:
    provider = build_provider(settings(
        llm_provider="openai", llm_base_url="http://127.0.0.1:11434/v1/", llm_api_key="k",
        llm_model="llama3", llm_deadline=42, llm_max_retries=5,
    ))

    assert isinstance(provider, OpenAIProvider)
    assert (provider.name, provider.model, provider.base_url) == (
        "openai", "llama3", "http://127.0.0.1:11434/v1")
    assert provider.deadline == 42 and provider.retry_policy.max_retries == 5


def test_anthropic_defaults() -> None:
    provider = build_provider(settings(llm_provider="anthropic", llm_api_key="k"))

    assert isinstance(provider, AnthropicProvider)
    assert (provider.model, provider.base_url) == (
        "claude-haiku-4-5", "https://api.anthropic.com/v1")


@pytest.mark.anyio
async def test_sse_joins_data_lines_and_skips_comments() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": keep-alive", "event: ping", "data: {}", "", "data: a", "data:b", "",
                     "data: [DONE]", "", "data: cut off"]:
            yield line

    events = [event async for event in sse_events(lines())]

    assert events == [SSEEvent("ping", "{}"), SSEEvent("", "a\nb"), SSEEvent("", "[DONE]")]
