"""The long-poll flood of bench/abuse.py, in a process of its own: the attacker's client work
(300 connections at once) then does not run on the event loop that times the victim.

    python bench/_flood.py BASE TOKEN TOPIC_ID CAP

Sends 300 polls (`next?wait=30`) at once as raw HTTP/1.1, one connection each, again half a
second after each burst's refusals are all answered, until a line comes on stdin; then prints
one JSON line (the bursts' times and the statuses), holds the polls still open until the next
line, and prints another (how many were held, the statuses)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

POLLS = 300
PAUSE = 0.5  # between two bursts


async def send_raw(base: str, method: str, path: str, *, token: str | None = None,
                   body: dict | None = None) -> int:
    """One request on a connection of its own, as a flood script sends it; its status once
    the answer starts. No client library: httpx's pool took 3.3 s of CPU to send 300 polls at
    once (bench/abuse.py before 2026-12-02)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} /api/v1{path} HTTP/1.1", f"Host: {host}", "Connection: close",
            f"Content-Length: {len(payload)}", "Content-Type: application/json"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()
        return int((await reader.readline()).split()[1])
    finally:
        writer.close()


async def flood(base: str, token: str, topic_id: int, cap: int) -> None:
    loop = asyncio.get_running_loop()
    line = loop.run_in_executor(None, sys.stdin.readline)
    statuses: Counter = Counter()
    tasks: list[asyncio.Task] = []
    times: list[float] = []

    async def poll() -> None:
        try:
            path = f"/topics/{topic_id}/next?wait=30"
            statuses[await send_raw(base, "GET", path, token=token)] += 1
        except (OSError, ValueError, IndexError) as error:
            statuses[type(error).__name__] += 1

    while not line.done():
        answered = sum(statuses.values())
        started = time.perf_counter()
        tasks += [asyncio.create_task(poll()) for _ in range(POLLS)]
        # Every burst but the first is refused whole: the first one's polls hold the places.
        expected = answered + POLLS - (cap if answered == 0 else 0)
        while sum(statuses.values()) < expected and time.perf_counter() - started < 60:
            await asyncio.sleep(0.005)
        times.append(time.perf_counter() - started)
        await asyncio.sleep(PAUSE)
    print(json.dumps({"bursts": times, "statuses": statuses}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    held = sum(not task.done() for task in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"held": held, "statuses": statuses}), flush=True)


if __name__ == "__main__":
    base, token, topic_id, cap = sys.argv[1:5]
    asyncio.run(flood(base, token, int(topic_id), int(cap)))
