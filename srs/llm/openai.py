"""Any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama, gateways)."""

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
from srs.llm.base import LLMError, LLMRequest, StreamEvent, TextDelta, Usage, estimate_tokens


class OpenAIProvider(HTTPStreamProvider):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    default_model = "gpt-4o-mini"

    def _call(self, request: LLMRequest) -> HTTPCall:
        messages = [{"role": "user", "content": request.user}]
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        return HTTPCall("/chat/completions", headers, body)

    async def _read(
        self, events: AsyncIterator[SSEEvent], request: LLMRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        usage: Usage | None = None
        output_chars = 0
        async for event in events:
            if event.data == "[DONE]":
                # No usage at all: a server that ignores include_usage.
                yield usage or _estimated_usage(request, output_chars)
                return
            chunk = parse_event_json(self.name, event.data)
            if "error" in chunk:
                raise error_from_payload(self.name, chunk, "server_error")
            text = _content(chunk)
            if text:
                output_chars += len(text)
                yield TextDelta(text)
            # OpenAI sends usage once, with empty choices; some servers put it on every
            # chunk, cumulative: the last one seen is the total either way.
            if isinstance(chunk.get("usage"), dict):
                usage = Usage(
                    int(chunk["usage"].get("prompt_tokens") or 0),
                    int(chunk["usage"].get("completion_tokens") or 0),
                )
        raise LLMError("stream_error", f"{self.name} stream ended before [DONE]")


def _content(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def _estimated_usage(request: LLMRequest, output_chars: int) -> Usage:
    return Usage(
        estimate_tokens(len(request.system) + len(request.user)),
        estimate_tokens(output_chars),
        estimated=True,
    )
