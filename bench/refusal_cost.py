"""What one refused long-poll costs the server: bursts of 300 polls (`next?wait=30`) by one
user, sent as raw HTTP, on a topic whose batch is on its way; the first burst's 10 are let
through (the cap) and hold the places, the rest are refused. Prints, per burst, how long until
the refusals were all answered and the `srs serve` process's CPU time meanwhile (from /proc).
docs/benchmarks.md (Abuse) quotes it; it started as a scratch script, where its first numbers
were taken (the wait then ended at 290 answers for every burst).

    PYTHONPATH=. .venv/bin/python bench/refusal_cost.py [--bursts 4]

The server runs the `srs` on PYTHONPATH: point it at another checkout to compare commits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import abuse
from _flood import POLLS, send_raw
from abuse import ScriptedLLMServer, client, responder, signup, start_app, stop


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(bursts: int) -> None:
    abuse.POLL_TTFT = 120  # no card arrives while we measure
    with ScriptedLLMServer(responder=responder) as llm, tempfile.TemporaryDirectory() as tmp:
        procs, base = start_app(f"sqlite:///{tmp}/refusals.db", llm.base_url, Path(tmp), 0)
        pid = procs[0].pid
        try:
            token = await signup(base, "attacker")
            async with client(base, token) as http:
                topic_id = (await http.post("/topics", json={"prompt": "Poll target"})).json()["id"]
                while (await http.get(f"/topics/{topic_id}")).json()["generation"]["status"] != "running":
                    await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            path = f"/topics/{topic_id}/next?wait=30"
            tasks: list[asyncio.Task] = []
            for n in range(bursts):
                statuses: Counter = Counter()

                async def poll(statuses: Counter = statuses) -> None:
                    statuses[await send_raw(base, "GET", path, token=token)] += 1

                cpu, started = cpu_seconds(pid), time.perf_counter()
                tasks += [asyncio.create_task(poll()) for _ in range(POLLS)]
                expected = POLLS - 10 if n == 0 else POLLS  # later bursts are refused whole
                while statuses[429] < expected:
                    await asyncio.sleep(0.005)
                seconds, used = time.perf_counter() - started, cpu_seconds(pid) - cpu
                print(f"burst {n}: {statuses[429]} refusals answered in {seconds:.2f} s; server CPU "
                      f"{used:.2f} s, {used / statuses[429] * 1000:.2f} ms a refusal", flush=True)
                await asyncio.sleep(1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            stop(procs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bursts", type=int, default=4)
    asyncio.run(main(parser.parse_args().bursts))
