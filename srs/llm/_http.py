"""What the HTTP providers share: the POST, status and transport errors, SSE, timeouts, retries.

A provider subclass says only how to build its request body and how to read its events.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import httpx

from srs.llm._retry import RetryPolicy, with_retries
from srs.llm.base import ErrorKind, LLMError, LLMRequest, StreamEvent

T = TypeVar("T")

# Error types both APIs put in their JSON error bodies and in-stream error events.
_ERROR_TYPE_KINDS: dict[str, ErrorKind] = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limited",
    "rate_limit_exceeded": "rate_limited",
    "api_error": "server_error",
    "server_error": "server_error",
    "authentication_error": "auth",
    "permission_error": "auth",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "request_too_large": "bad_request",
}


@dataclass(frozen=True)
class SSEEvent:
    event: str  # "" when the server named none, as OpenAI does
    data: str


@dataclass(frozen=True)
class HTTPCall:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class HTTPStreamProvider(ABC):
    """Base of the HTTP providers; `stream` is the whole shared behaviour."""

    name: str
    default_base_url: ClassVar[str]
    default_model: ClassVar[str]

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        client: httpx.AsyncClient | None = None,
        connect_timeout: float = 10.0,
        chunk_timeout: float = 60.0,
        deadline: float = 300.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.api_key = api_key
        self.model = model or self.default_model
        self._client = client or httpx.AsyncClient()
        self._owns_client = client is None
        # httpx's read timeout is per chunk; the deadline below bounds the whole stream.
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=chunk_timeout, write=connect_timeout, pool=connect_timeout
        )
        self.chunk_timeout = chunk_timeout
        self.deadline = deadline
        self.retry_policy = RetryPolicy(max_retries=max_retries, backoff_base=backoff_base)

    @abstractmethod
    def _call(self, request: LLMRequest) -> HTTPCall:
        """The path, headers and JSON body of one streaming request."""

    @abstractmethod
    def _read(
        self, events: AsyncIterator[SSEEvent], request: LLMRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        """Turn the provider's events into deltas and one final Usage; raise on a cut stream."""

    async def stream(self, request: LLMRequest) -> AsyncGenerator[StreamEvent, None]:
        deadline_at = asyncio.get_running_loop().time() + self.deadline
        events = with_retries(
            lambda: self._attempt(request, deadline_at), self.retry_policy, deadline_at, self.name
        )
        async with aclosing(events):
            async for event in events:
                yield event

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _attempt(
        self, request: LLMRequest, deadline_at: float
    ) -> AsyncGenerator[StreamEvent, None]:
        call = self._call(request)
        http_request = self._client.build_request(
            "POST", self.base_url + call.path, json=call.body, headers=call.headers,
            timeout=self._timeout,
        )
        try:
            response = await self._by_deadline(
                self._client.send(http_request, stream=True), deadline_at
            )
        except httpx.HTTPError as exc:
            raise _transport_error(self.name, exc, started=False) from exc
        try:
            # An error body read as an event stream would look like a broken stream.
            if response.status_code >= 400:
                body = await self._by_deadline(response.aread(), deadline_at)
                raise _status_error(self.name, response, body)
            lines = self._lines_by_deadline(response.aiter_lines(), deadline_at)
            async with aclosing(self._read(sse_events(lines), request)) as events:
                while True:
                    # httpx's read timeout is per network read: keep-alive comments or pings
                    # would hold the stream open with no text. This bounds the wait between
                    # two events (the first after the headers included), never a `yield`.
                    try:
                        async with asyncio.timeout(self.chunk_timeout):
                            event = await anext(events)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise self._stalled_error() from None
                    yield event
        except httpx.ReadTimeout:
            raise self._stalled_error() from None
        except httpx.HTTPError as exc:
            raise _transport_error(self.name, exc, started=True) from exc
        finally:
            await response.aclose()

    async def _by_deadline(self, awaitable: Awaitable[T], deadline_at: float) -> T:
        try:
            async with asyncio.timeout_at(deadline_at):
                return await awaitable
        except TimeoutError:
            raise self._deadline_error() from None

    async def _lines_by_deadline(
        self, lines: AsyncIterator[str], deadline_at: float
    ) -> AsyncIterator[str]:
        # Only the waits for the server are under the timeout, never a `yield`: a timeout
        # spanning a yield would fire inside the caller's code, and in another task's scope.
        while True:
            try:
                async with asyncio.timeout_at(deadline_at):
                    line = await anext(lines)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise self._deadline_error() from None
            yield line

    def _stalled_error(self) -> LLMError:
        return LLMError(
            "timeout",
            f"{self.name} stalled: nothing came for {self.chunk_timeout:g}s "
            "(SRS_LLM_CHUNK_TIMEOUT)",
            stalled=True,
        )

    def _deadline_error(self) -> LLMError:
        return LLMError(
            "timeout",
            f"{self.name} did not finish within the {self.deadline:g}s deadline",
            retryable=False,
        )


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Server-sent events from text lines; an event cut off by the end of input is dropped."""
    event, data = "", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data = "", list[str]()
        elif not line.startswith(":"):  # ":" starts a comment (keep-alive) line
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def parse_event_json(provider: str, data: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise LLMError("stream_error", f"{provider} sent an event that is not JSON: {data[:200]}")
    return parsed


def error_from_payload(provider: str, payload: dict[str, Any], fallback: ErrorKind) -> LLMError:
    """An LLMError from `{"error": {"type": ..., "message": ...}}`, as both APIs send."""
    error = payload.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or error)
        kind = _ERROR_TYPE_KINDS.get(str(error.get("type")), fallback)
    else:
        message, kind = str(error or payload.get("message") or payload), fallback
    return LLMError(kind, f"{provider}: {message}")


def _status_error(provider: str, response: httpx.Response, body: bytes) -> LLMError:
    status = response.status_code
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        message = error_from_payload(provider, payload, "bad_request").message
    else:
        message = f"{provider}: {body.decode(errors='replace').strip()[:500] or response.reason_phrase}"
    return LLMError(
        _kind_for_status(status),
        f"HTTP {status} from {message}",
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _kind_for_status(status: int) -> ErrorKind:
    if status == 429:
        return "rate_limited"
    if status == 529:  # Anthropic's "overloaded"
        return "overloaded"
    if status >= 500:
        return "server_error"
    if status in (401, 403):
        return "auth"
    if status == 408:
        return "timeout"
    return "bad_request"


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: rare from LLM APIs, so fall back to our own backoff
        return None


def _transport_error(provider: str, exc: httpx.HTTPError, *, started: bool) -> LLMError:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
        return LLMError("timeout", f"{provider} timed out {phase} ({detail})")
    if started:
        return LLMError("stream_error", f"{provider} stream was interrupted ({detail})")
    return LLMError("connection", f"could not reach {provider} ({detail})")
