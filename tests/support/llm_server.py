"""A scripted LLM server over real HTTP on 127.0.0.1, for tests and benchmarks.

It speaks just enough HTTP/1.1 to stream like OpenAI (`POST /v1/chat/completions`) and
Anthropic (`POST /v1/messages`), and to answer OpenAI-style `POST /v1/embeddings` with
`server.embed(text)` (a bag-of-words vector by default; scripted failures come from
`server.script_embeddings([Reply(status=...)])`): each body chunk is written and drained on its own with
TCP_NODELAY, so a client sees tokens arrive at the scripted pace. Each request consumes
one scripted `Reply`; when the script is empty, `server.default` answers.

Outline requests (their prompt shows the `<outline>` shape) are kept apart, so a test
scripting card batches need not know about the outline step: they are recorded in
`outline_requests`, consume `script_outline(...)` replies, and otherwise get `outline_default`
(eight subtopics). A `responder` (request -> Reply), if given, answers every request instead:
a model whose reply depends on the prompt (bench/feed_long.py).

    with ScriptedLLMServer() as server:
        server.script([Reply(status=429, headers={"Retry-After": "0"}), Reply(text=xml)])
        provider = OpenAIProvider(base_url=server.base_url, ...)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from srs.llm.base import LLMError, StreamEvent, TextDelta, Usage

DEFAULT_TEXT = (
    "<cards>\n"
    "<card><front>What is the capital of France?</front><back>Paris</back></card>\n"
    "<card><front>What is 2 + 2?</front><back>4</back></card>\n"
    "</cards>"
)

DEFAULT_OUTLINE_NAMES = (
    "Basics", "Key terms", "History", "Key people", "Places", "Numbers and dates",
    "Common mistakes", "Advanced details",
)


def outline_xml(names: Iterable[str] = DEFAULT_OUTLINE_NAMES) -> str:
    subtopics = "".join(
        f"  <subtopic>\n    <name>{name}</name>\n    <scope>All about {name.lower()}</scope>\n"
        "  </subtopic>\n"
        for name in names
    )
    return f"<outline>\n{subtopics}</outline>\n"


def _prompt(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    return str(body.get("system") or "") + "".join(str(m.get("content")) for m in messages)


def is_verify_request(body: dict[str, Any]) -> bool:
    """True when the request asks for verdicts on cards (its prompt shows `<verdicts>`)."""
    return "<verdicts>" in _prompt(body)


VERIFY_CARD = re.compile(r"^Card (\d+)\nFront: (.*)$", re.MULTILINE)


def verify_cards(request: ReceivedRequest) -> list[tuple[int, str]]:
    """(number, front) of each card a verify request asks about."""
    return [(int(n), front) for n, front in VERIFY_CARD.findall(_prompt(request.json))]


def verdicts_xml(labels: Iterable[tuple[int, str, str]]) -> str:
    """(number, label, reason) as the verifier writes them."""
    body = "".join(
        f'<verdict card="{n}"><label>{label}</label><reason>{reason}</reason></verdict>\n'
        for n, label, reason in labels
    )
    return f"<verdicts>\n{body}</verdicts>\n"


def approve_all(request: ReceivedRequest) -> Reply:
    """The default verifier: every card is fine."""
    return Reply(text=verdicts_xml((n, "ok", "fine") for n, _ in verify_cards(request)))


def is_answer_again_request(body: dict[str, Any]) -> bool:
    """True for the answer check's request: one card's question, asked on its own."""
    return "Reply with the answer only" in _prompt(body)


ASKED = re.compile(r"^Question: (.*)$", re.MULTILINE)


def asked_again(request: ReceivedRequest) -> str:
    """The question an answer-check request asks."""
    return ASKED.findall(_prompt(request.json))[-1]


def no_answers(request: ReceivedRequest) -> Reply:
    """The default for answer-check requests: a test that wants them scripts `answerer`."""
    return Reply(status=500, error_message="this test scripted no answers")


def is_outline_request(body: dict[str, Any]) -> bool:
    """True when the request asks for an outline (CONTRACT.md: its prompt shows the shape)."""
    messages = body.get("messages") or []
    prompt = str(body.get("system") or "") + "".join(str(m.get("content")) for m in messages)
    return "<outline>" in prompt


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 529: "Overloaded"}
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 429: "rate_limit_error",
                529: "overloaded_error"}


@dataclass
class Reply:
    """One scripted answer. A status other than 200 sends a provider-style JSON error body."""

    text: str = DEFAULT_TEXT
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = "scripted failure"  # the message in an error body or error event
    ttft: float = 0.0  # seconds before the first text chunk
    tokens_per_second: float | None = None  # one chunk is one token; None: no pacing
    chunk_chars: int = 4
    disconnect_after_chars: int | None = None  # close the connection after this much text
    stall_after_chars: int | None = None  # stop sending, keep the connection open
    hang: bool = False  # the 200 headers and opening event, then no text (stall_after_chars=0)
    # After `text`, send this over and over (whole copies, about chunk_chars a chunk) until
    # the client goes away.
    endless: str | None = None
    # After `text`, an SSE comment line (a keep-alive, no text) this often, until the client
    # goes away.
    keep_alive_every: float | None = None
    error_event: str | None = None  # after the text, an in-stream error of this type
    input_tokens: int | None = None  # reported usage; default: prompt characters / 4
    output_tokens: int | None = None  # default: the number of chunks sent
    send_usage: bool = True  # False: an OpenAI-compatible server that ignores include_usage


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    json: dict[str, Any]
    at: float  # time.monotonic() when the body was read


@dataclass
class Collected:
    text: str = ""
    usage: list[Usage] = field(default_factory=list)
    error: LLMError | None = None  # what the stream ended with, if it failed
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, text so far)


async def collect(events: AsyncIterator[StreamEvent]) -> Collected:
    """Read a provider's stream to its end, keeping what arrived before any failure."""
    result = Collected()
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                result.text += event.text
                result.arrivals.append((time.monotonic(), result.text))
            else:
                result.usage.append(event)
    except LLMError as error:
        result.error = error
    return result


class ScriptedLLMServer:
    def __init__(
        self,
        default: Reply | None = None,
        responder: Callable[[ReceivedRequest], Reply] | None = None,
    ) -> None:
        self.default = default or Reply()
        self.responder = responder
        self.requests: list[ReceivedRequest] = []
        self.outline_default = Reply(text=outline_xml())
        self.outline_requests: list[ReceivedRequest] = []
        self._outline_script: list[Reply] = []
        # Verify requests (the verification pass) are kept apart too, answered by `verifier`.
        self.verifier: Callable[[ReceivedRequest], Reply] = approve_all
        self.verify_requests: list[ReceivedRequest] = []
        # The answer check's requests (a card's question asked again), answered by `answerer`.
        self.answerer: Callable[[ReceivedRequest], Reply] = no_answers
        self.answer_requests: list[ReceivedRequest] = []
        # For each streamed reply: (time.monotonic(), cumulative text) after each chunk left.
        self.emitted: list[list[tuple[float, str]]] = []
        self.port = 0
        self._script: list[Reply] = []
        self._embedding_script: list[Reply] = []
        self.embed: Callable[[str], list[float]] = bag_of_words
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, replies: Iterable[Reply]) -> None:
        with self._lock:
            self._script.extend(replies)

    def script_embeddings(self, replies: Iterable[Reply]) -> None:
        with self._lock:
            self._embedding_script.extend(replies)

    def script_outline(self, replies: Iterable[Reply]) -> None:
        with self._lock:
            self._outline_script.extend(replies)

    def start(self) -> Self:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=5)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):  # hanging replies wait for the client otherwise
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _next_reply(self, outline: bool) -> Reply:
        with self._lock:
            if outline:
                return self._outline_script.pop(0) if self._outline_script else self.outline_default
            return self._script.pop(0) if self._script else self.default

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            request = await _read_request(reader)
            with self._lock:
                if is_outline_request(request.json):
                    self.outline_requests.append(request)
                elif is_verify_request(request.json):
                    self.verify_requests.append(request)
                elif is_answer_again_request(request.json):
                    self.answer_requests.append(request)
                else:
                    self.requests.append(request)
            await self._respond(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: nothing to answer
        except asyncio.CancelledError:
            # Only stop() cancels a reply. Ending quietly: Python 3.11's stream server asks a
            # cancelled handler for its exception and logs the CancelledError as an error.
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _respond(
        self, request: ReceivedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if request.path == "/v1/embeddings":
            writer.write(self._embeddings(request))
            await writer.drain()
            return
        dialect = _DIALECTS.get(request.path)
        outline = is_outline_request(request.json)
        if dialect is None:
            reply = None  # a wrong path uses up no reply
        elif is_verify_request(request.json):
            reply = self.verifier(request)
        elif is_answer_again_request(request.json):
            reply = self.answerer(request)
        elif self.responder is not None:
            reply = self.responder(request)
        else:
            reply = self._next_reply(outline)
        if dialect is None or reply is None:
            writer.write(_json_response(404, {"error": {"message": "no such path"}}, {}))
        elif reply.status != 200:
            writer.write(_json_response(reply.status, dialect.error_body(reply), reply.headers))
        else:
            writer.write(_head(200, {"Content-Type": "text/event-stream",
                                     "Cache-Control": "no-cache", "Transfer-Encoding": "chunked",
                                     **reply.headers}))
            await self._stream(request, reply, dialect, reader, writer)
        await writer.drain()

    def _embeddings(self, request: ReceivedRequest) -> bytes:
        with self._lock:
            reply = self._embedding_script.pop(0) if self._embedding_script else None
        if reply is not None and reply.status != 200:
            return _json_response(reply.status, _OpenAI().error_body(reply), reply.headers)
        texts = request.json.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = [{"object": "embedding", "index": i, "embedding": self.embed(t)}
                for i, t in enumerate(texts)]
        return _json_response(200, {"object": "list", "data": data,
                                    "model": request.json.get("model")}, {})

    async def _stream(
        self,
        request: ReceivedRequest,
        reply: Reply,
        dialect: _Dialect,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        emitted: list[tuple[float, str]] = []
        if not is_outline_request(request.json) and not is_verify_request(request.json):
            with self._lock:
                self.emitted.append(emitted)
        usage = _Usage(reply.input_tokens or _prompt_chars(request.json) // 4, 0, reply.send_usage)
        await _send(writer, dialect.start(request.json, usage))
        stall_at = 0 if reply.hang else reply.stall_after_chars
        cut_at = stall_at if stall_at is not None else reply.disconnect_after_chars
        text = reply.text[:cut_at] if cut_at is not None else reply.text
        await asyncio.sleep(reply.ttft)
        started, interval = time.monotonic(), 1 / (reply.tokens_per_second or float("inf"))
        for index in range(0, len(text), reply.chunk_chars):
            await asyncio.sleep(max(0.0, started + usage.output * interval - time.monotonic()))
            await _send(writer, dialect.delta(text[index:index + reply.chunk_chars]))
            usage.output += 1
            emitted.append((time.monotonic(), text[:index + reply.chunk_chars]))
        if reply.endless:
            # Not recorded in `emitted`: the cumulative text would grow without end.
            piece = reply.endless * max(1, reply.chunk_chars // len(reply.endless))
            while True:  # ends when the client closes the connection (ConnectionError)
                await asyncio.sleep(max(0.0, started + usage.output * interval - time.monotonic()))
                await _send(writer, dialect.delta(piece))
                usage.output += 1
        while reply.keep_alive_every is not None:  # ends when the client closes the connection
            await asyncio.sleep(reply.keep_alive_every)
            await _send(writer, ": keep-alive\n\n")
        if stall_at is not None:
            await reader.read()  # returns when the client gives up and closes
            return
        if reply.disconnect_after_chars is not None:
            return  # closing without the last chunk marker: an interrupted stream
        if reply.error_event:
            await _send(writer, dialect.error_event(reply), end=True)
            return
        usage.output = reply.output_tokens if reply.output_tokens is not None else usage.output
        await _send(writer, dialect.finish(request.json, usage), end=True)


@dataclass
class _Usage:
    input: int
    output: int
    send: bool = True


class _Dialect(Protocol):
    def error_body(self, reply: Reply) -> dict[str, Any]: ...
    def start(self, body: dict[str, Any], usage: _Usage) -> str: ...
    def delta(self, text: str) -> str: ...
    def finish(self, body: dict[str, Any], usage: _Usage) -> str: ...
    def error_event(self, reply: Reply) -> str: ...


def _error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


class _OpenAI:
    def error_body(self, reply: Reply) -> dict[str, Any]:
        error = {"message": reply.error_message, "type": _error_type(reply.status)}
        return {"error": {**error, "param": None, "code": None}}

    def start(self, body: dict[str, Any], usage: _Usage) -> str:
        return _data(_chunk(body, {"role": "assistant", "content": ""}))

    def delta(self, text: str) -> str:
        return _data(_chunk({}, {"content": text}))

    def finish(self, body: dict[str, Any], usage: _Usage) -> str:
        events = _data(_chunk(body, {}, finish_reason="stop"))
        if usage.send and (body.get("stream_options") or {}).get("include_usage"):
            counts = {"prompt_tokens": usage.input, "completion_tokens": usage.output,
                      "total_tokens": usage.input + usage.output}
            events += _data({**_chunk(body, None), "choices": [], "usage": counts})
        return events + "data: [DONE]\n\n"

    def error_event(self, reply: Reply) -> str:
        return _data({"error": {"message": reply.error_message, "type": reply.error_event}})


class _Anthropic:
    def error_body(self, reply: Reply) -> dict[str, Any]:
        return {"type": "error",
                "error": {"type": _error_type(reply.status), "message": reply.error_message}}

    def start(self, body: dict[str, Any], usage: _Usage) -> str:
        message: dict[str, Any] = {"id": "msg_scripted", "type": "message", "role": "assistant", "content": [],
                   "model": body.get("model"), "stop_reason": None,
                   "usage": {"input_tokens": usage.input, "output_tokens": 1}}
        return (_event("message_start", {"type": "message_start", "message": message})
                + _event("content_block_start", {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "text", "text": ""}})
                + _event("ping", {"type": "ping"}))

    def delta(self, text: str) -> str:
        return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": text}})

    def finish(self, body: dict[str, Any], usage: _Usage) -> str:
        return (_event("content_block_stop", {"type": "content_block_stop", "index": 0})
                + _event("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": "end_turn"},
                                           "usage": {"output_tokens": usage.output}})
                + _event("message_stop", {"type": "message_stop"}))

    def error_event(self, reply: Reply) -> str:
        return _event("error", {"type": "error",
                                "error": {"type": reply.error_event, "message": reply.error_message}})


_DIALECTS: dict[str, _Dialect] = {"/v1/chat/completions": _OpenAI(), "/v1/messages": _Anthropic()}


def _chunk(body: dict[str, Any], delta: dict[str, Any] | None, finish_reason: str | None = None
           ) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta,
                                         "finish_reason": finish_reason}]
    return {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0,
            "model": body.get("model", "scripted"), "choices": choices}


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _event(name: str, payload: dict[str, Any]) -> str:
    return f"event: {name}\n{_data(payload)}"


def _prompt_chars(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    return len(str(body.get("system") or "")) + sum(len(str(m.get("content"))) for m in messages)


async def _read_request(reader: asyncio.StreamReader) -> ReceivedRequest:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *header_lines = head.rstrip("\r\n").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    path = request_line.split(" ")[1]
    return ReceivedRequest(path, headers, json.loads(body) if body else {}, time.monotonic())


async def _send(writer: asyncio.StreamWriter, data: str, *, end: bool = False) -> None:
    """One HTTP chunk, drained before returning so it is on the wire, not in a buffer."""
    raw = data.encode()
    writer.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n" + (b"0\r\n\r\n" if end else b""))
    await writer.drain()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_response(status: int, payload: dict[str, Any], headers: dict[str, str]) -> bytes:
    body = json.dumps(payload).encode()
    return _head(status, {"Content-Type": "application/json",
                          "Content-Length": str(len(body)), **headers}) + body


def bag_of_words(text: str, dimensions: int = 256) -> list[float]:
    """A deterministic stand-in embedding: equal word sets give equal vectors."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.casefold()):
        vector[int(hashlib.sha1(word.encode()).hexdigest(), 16) % dimensions] += 1.0
    return vector
