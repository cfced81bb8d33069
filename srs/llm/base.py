"""The provider-neutral types: a request in, a stream of text deltas and one usage out."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal, Protocol

ErrorKind = Literal[
    "rate_limited",
    "server_error",
    "timeout",
    "connection",
    "bad_request",
    "auth",
    "stream_error",
    "overloaded",
    "not_configured",
    "model_error",
]

# Kinds that a later attempt may fix; the others need a change of request or configuration.
_RETRYABLE_KINDS: frozenset[str] = frozenset(
    {"rate_limited", "server_error", "timeout", "connection", "stream_error", "overloaded"}
)


@dataclass(frozen=True)
class LLMRequest:
    system: str
    user: str
    # Base (non-chat) models get a plain few-shot document to continue instead of system/user.
    completion_prompt: str
    grammar: str | None = None  # GBNF; only the local provider can enforce it
    max_tokens: int = 4096
    temperature: float = 0.7
    # A short request that may run while another of the same provider streams (the answer
    # check, beside its batch): the embedded provider answers it on a context of its own.
    beside: bool = False


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False  # True when the provider sent no count and we guessed from text


StreamEvent = TextDelta | Usage


class LLMError(Exception):
    """Every provider failure, classified so callers can decide to retry, wait or give up."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        stalled: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.retryable = kind in _RETRYABLE_KINDS if retryable is None else retryable
        self.retry_after = retry_after
        # The provider answered, then went silent for the chunk timeout. Retried as a job
        # (after the other learners' jobs), never inside the stream: a worker slot held by a
        # silent provider is given back within one chunk timeout.
        self.stalled = stalled

    def __repr__(self) -> str:
        return f"LLMError(kind={self.kind!r}, message={self.message!r})"


class LLMProvider(Protocol):
    name: str  # "openai" | "anthropic" | "local"
    model: str  # the model name stored on the cards it writes

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...


# A reply longer than max_tokens times this many characters comes from a provider that
# ignores max_tokens (a real token is ~4 characters): it is cut instead of read on.
MAX_CHARS_PER_TOKEN = 16


@dataclass
class Reading:
    """What reading one reply saw: its characters, its usage report, whether it was cut."""

    chars: int = 0
    usage: Usage | None = None
    cut: bool = False


async def bounded_text(
    provider: LLMProvider, request: LLMRequest, reading: Reading
) -> AsyncGenerator[str, None]:
    """The reply's text, chunk by chunk, until it ends or outgrows what its max_tokens allows
    (then `reading.cut`, and that chunk is not given); its length and usage land in
    `reading`, for the tokens to meter even when the caller stops early or the provider fails."""
    async with aclosing(provider.stream(request)) as stream:
        async for event in stream:
            if isinstance(event, Usage):
                reading.usage = event
                continue
            reading.chars += len(event.text)
            if reading.chars > request.max_tokens * MAX_CHARS_PER_TOKEN:
                reading.cut = True
                return
            yield event.text


def estimate_tokens(chars: int) -> int:
    """About four characters a token: only for providers that report no usage at all."""
    return max(1, round(chars / 4)) if chars else 0
