"""The long-polls' first gate: one credential's polls beyond the cap are refused before routing.

A flood of `next?wait=` requests from one token is answered 429 here, in the outer middleware
stack: no route matching, no dependency, no database read, no thread. Going through FastAPI
cost each refusal about 0.7 ms of the single event loop (routing across every route, solving
the endpoint's dependencies, the exception handlers), so 300 polls sent at once kept it busy
for 0.2-0.4 s; every step of another learner's request (each threadpool hop) then waited
behind that queue, and their p99 reached 0.2-0.8 s (bench/abuse.py). The endpoint still caps
the learner (all their tokens together) once the token is checked."""

from __future__ import annotations

import json
import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from srs.accounts.dependencies import presented_token
from srs.kit.errors import AppError, error_body
from srs.kit.events import TopicEvents

NEXT_PATH = re.compile(r"/api/v1/topics/[0-9]+/next")


def _waits(request: Request) -> bool:
    """Whether the request asks to wait (`wait` > 0, read as the endpoint reads it: the last
    one); a malformed value is the endpoint's 422."""
    try:
        return float(request.query_params.get("wait", 0)) > 0
    except ValueError:
        return False


async def _refuse(refused: AppError, send: Send) -> None:
    body = json.dumps(error_body(refused.code, refused.message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (refused.headers or {}).items()]
    await send({"type": "http.response.start", "status": refused.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LongPollGate:
    """Holds one of the presented credential's long-poll places until the answer starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not NEXT_PATH.fullmatch(scope["path"])
        ):
            return await self.app(scope, receive, send)
        request = Request(scope)
        token = presented_token(request)
        if token is None or not _waits(request):  # no place to hold (or the endpoint's 401)
            return await self.app(scope, receive, send)
        state = scope["app"].state
        events: TopicEvents = state.events
        key = ("token", token)
        try:
            events.take_place(key, state.settings.long_polls_per_user)
        except AppError as refused:
            return await _refuse(refused, send)
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                events.give_place(key)

        async def answering(message: Message) -> None:
            # Free before the answer goes out: a client that polls again as soon as it has its
            # answer must find its place free.
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        try:
            await self.app(scope, receive, answering)
        finally:
            give_back()
