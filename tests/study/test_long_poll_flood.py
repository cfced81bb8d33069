"""A flood of long-polls from one token is refused before routing (issue 13).

Through FastAPI (route matching, the endpoint's dependencies, the exception handlers) each
refusal cost the one event loop 0.8-1.3 ms, so 300 polls sent at once held every other
learner's requests for 0.3-1 s; refused in the middleware stack, 0.3 ms (bench/abuse.py,
docs/benchmarks.md). CPU time is too noisy on a shared machine to assert here, so this test
checks what makes the refusal cheap: the endpoint's dependencies never run for it."""

from __future__ import annotations

import asyncio

from fastapi import Request

from srs.kit.events import TopicEvents
from srs.study.dependencies import get_events
from tests.conftest import Api, make_settings
from tests.study.test_long_poll_cap import hold_two_polls
from tests.support.server import running_app

FLOOD = 300


async def _send(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return int((await reader.readline()).split()[1])
    finally:
        writer.close()


async def _flood(port: int, request: bytes) -> list[int]:
    return await asyncio.gather(*(_send(port, request) for _ in range(FLOOD)))


def test_a_flood_of_long_polls_is_refused_before_the_endpoint_runs(database_url):
    settings = make_settings(database_url, long_polls_per_user=2, worker_enabled=False)
    with running_app(settings) as (base_url, app):
        routed = []

        # The study endpoint's dependency, counted: each call is a request that was routed.
        async def counted_events(request: Request) -> TopicEvents:
            routed.append(request.url.path)
            return await get_events(request)

        app.dependency_overrides[get_events] = counted_events
        api = Api(base_url)
        user_id = api.signup("flood@example.com")["user"]["id"]
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        url = f"/topics/{topic['id']}/next"
        held = hold_two_polls(api, app, user_id, url, wait=3)
        port = int(base_url.rsplit(":", 1)[1])
        request = (
            f"GET /api/v1{url}?wait=30 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {api.token}\r\nConnection: close\r\n\r\n"
        ).encode()
        statuses = asyncio.run(_flood(port, request))
        for thread in held:
            thread.join()
        after = api.get(url, params={"wait": 0.1})  # the places are free again
        api.http.close()
    assert statuses == [429] * FLOOD
    assert after.status_code == 200
    assert len(routed) == 2 + 1, len(routed)  # the two held polls and the last one only
    assert len(app.state.events) == 0
