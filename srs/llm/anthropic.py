"""Anthropic's Messages API, streamed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from srs.llm._http import (
    HTTPCall,
    HTTPStreamProvider,
    SSEEvent,
    error_from_payload,
    parse_event_json,
)
from srs.llm.base import LLMError, LLMRequest, StreamEvent, TextDelta, Usage

API_VERSION = "2023-06-01"


class AnthropicProvider(HTTPStreamProvider):
    name = "anthropic"
    default_base_url = "https://api.anthropic.com/v1"
    default_model = "claude-haiku-4-5"

    def _call(self, request: LLMRequest) -> HTTPCall:
        headers = {"anthropic-version": API_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "messages": [{"role": "user", "content": request.user}],
            "stream": True,
        }
        if request.system:
            body["system"] = request.system
        return HTTPCall("/messages", headers, body)

    async def _read(
        self, events: AsyncIterator[SSEEvent], request: LLMRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        input_tokens = output_tokens = 0
        async for event in events:
            data = parse_event_json(self.name, event.data)
            kind = data.get("type") or event.event
            if kind == "message_start":
                usage = (data.get("message") or {}).get("usage") or {}
                input_tokens = _input_tokens(usage)
                output_tokens = int(usage.get("output_tokens") or 0)
            elif kind == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    yield TextDelta(delta["text"])
            elif kind == "message_delta":
                # Counts here are cumulative: the last one is the total.
                usage = data.get("usage") or {}
                input_tokens = _input_tokens(usage) or input_tokens
                output_tokens = int(usage.get("output_tokens") or output_tokens)
            elif kind == "message_stop":
                yield Usage(input_tokens, output_tokens)
                return
            elif kind == "error":
                raise error_from_payload(self.name, data, "server_error")
            # ping, content_block_start/stop and event types added later carry nothing for us.
        raise LLMError("stream_error", f"{self.name} stream ended before message_stop")


def _input_tokens(usage: dict[str, Any]) -> int:
    # Prompt-cache reads and writes are input too, counted apart from input_tokens.
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(key) or 0) for key in keys)
