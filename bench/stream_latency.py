"""Card delivery latency: from the moment the scripted LLM server emits a card's </card> to the
moment a long-polling client receives that card, through `srs serve` (a separate process) on
SQLite and PostgreSQL, and on PostgreSQL with the cards made by separate `srs worker` processes
(woken through LISTEN/NOTIFY, and with the listener off: the old 0.5 s poll). Also the time to
first card, against the same batch parsed only once
complete (the moment the last byte of the batch left the server: a whole-batch parser cannot
show any card earlier than that, so the baseline is a lower bound).

    .venv/bin/python bench/stream_latency.py [--batches 5] [--seconds 10] [--postgres URL]
        [--workers 2] [--separate-only] [--trace]

--trace also breaks each card's way down into steps (SRS_DELIVERY_TRACE, srs/kit/events.py):
the worker has the chunk, parsed and checked for repeats, saved; the API heard the NOTIFY;
the waiting request woken; the client has the card.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _serve
from _machine import machine
from _serve import scripted_env, stop

from tests.support.cards import COUNTRIES, batch_xml
from tests.support.llm_server import Reply, ScriptedLLMServer

CARDS = 10


def start_app(
    database_url: str, llm_url: str, workdir: Path, workers: int = 0, listen: bool = True,
    trace_file: Path | None = None,
) -> tuple[list[subprocess.Popen], str]:
    """`srs serve`, and with `workers` that many separate `srs worker` processes (the API's
    embedded worker then off). The first process is the API."""
    env = scripted_env(
        database_url, llm_url, SRS_PLAN_FREE_TOPICS="1000", SRS_PLAN_FREE_CARDS="100000",
        SRS_REFILL_BELOW="0",  # one batch per topic: no refill competing for scripted replies
        SRS_PG_LISTEN=str(listen).lower(),
        **({"SRS_DELIVERY_TRACE": str(trace_file)} if trace_file else {}),
    )
    return _serve.start_app(env, workdir, workers)


def run_topic(client: httpx.Client, llm: ScriptedLLMServer, batch: int, seconds: float):
    cards = [(f"What is the capital of {c}? ({batch})", city) for c, city in COUNTRIES[:CARDS]]
    text = batch_xml(cards)
    chunk = 8
    llm.script([Reply(text=text, ttft=0.3, chunk_chars=chunk, tokens_per_second=len(text) / chunk / seconds)])
    streams_before = len(llm.emitted)
    requests_before = len(llm.requests)
    topic = client.post("/api/v1/topics", json={"prompt": f"European capitals {batch}"}).json()
    received: list[float] = []
    while len(received) < CARDS:
        answer = client.get(f"/api/v1/topics/{topic['id']}/next", params={"wait": 30}).json()
        if answer["card"] is None:
            raise RuntimeError(f"no card: {answer['generation']}")
        received.append(time.monotonic())
        client.post(f"/api/v1/cards/{answer['card']['id']}/review", json={"rating": 3})
    settle(client, topic["id"])
    emitted = llm.emitted[streams_before]
    sent = [next(t for t, so_far in emitted if so_far.count("</card>") > i) for i in range(CARDS)]
    started = llm.requests[requests_before].at
    whole_batch = emitted[-1][0]
    return [r - s for r, s in zip(received, sent)], received[0] - started, whole_batch - started, (topic["id"], sent, received)


# What each process notes with SRS_DELIVERY_TRACE (srs/kit/events.py).
WORKER_STEPS = ("received", "checked", "saved")  # one note per card, in order


def breakdown(trace: str, traced: list[tuple[int, list[float], list[float]]]) -> dict[str, float]:
    """Median milliseconds of each step of a card's way, from the trace the app's processes
    wrote (one clock: CLOCK_MONOTONIC is system-wide). A card is counted only when every step
    is found (the learner was waiting for it)."""
    notes: dict[tuple[str, int], list[float]] = {}
    for line in trace.splitlines():
        at, _pid, step, topic = line.split()
        notes.setdefault((step, int(topic)), []).append(float(at))
    for times in notes.values():
        times.sort()

    def first(step: str, topic: int, after: float, before: float) -> float | None:
        return next((t for t in notes.get((step, topic), []) if after <= t <= before), None)

    gaps: dict[str, list[float]] = {}
    slowest: dict[str, float] = {}
    for topic, sent, received in traced:
        for i, (start, end) in enumerate(zip(sent, received)):
            worker = [notes.get((step, topic), []) for step in WORKER_STEPS]
            if any(i >= len(times) for times in worker):
                continue
            got, checked, saved = (times[i] for times in worker)
            # The API hears the NOTIFY when the commit is done: maybe before the worker's
            # thread has handed the save back. In-process there is nothing to hear.
            heard = first("heard", topic, checked, end)
            woken = first("woken", topic, heard if heard is not None else saved, end)
            if woken is None:
                continue
            steps = {
                "server -> worker has the chunk": got - start,
                "parse + duplicate check": checked - got,
                "save (commit) in the worker": saved - checked,
                "commit begun -> API heard NOTIFY": (heard - checked) if heard else None,
                "-> waiter woken": woken - (heard if heard is not None else saved),
                "-> re-read, response, client has it": end - woken,
                "total": end - start,
            }
            for name, gap in steps.items():
                if gap is not None:
                    gaps.setdefault(name, []).append(gap)
            if steps["total"] > slowest.get("total", -1):
                slowest = {name: gap for name, gap in steps.items() if gap is not None}
    out = {name: (statistics.median(values) * 1000, slowest.get(name, 0) * 1000)
           for name, values in gaps.items()}
    if gaps:
        out["cards traced"] = (len(gaps["total"]), 1)
    return out


def settle(client: httpx.Client, topic_id: int) -> None:
    """Turn the topic's generation off and wait until no batch of it is under way: a refill
    the learner's answers asked for (the refill point adapts to their pace) must not take the
    next topic's scripted reply."""
    client.patch(f"/api/v1/topics/{topic_id}", json={"generation_enabled": False})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/topics/{topic_id}").json()["generation"]["status"]
        if status not in ("queued", "running"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"topic {topic_id} still generating")


def measure(
    label: str, database_url: str, batches: int, seconds: float, workers: int = 0, listen: bool = True,
    trace: bool = False,
) -> dict:
    with ScriptedLLMServer(default=Reply(status=400, error_message="bench: no refill")) as llm, \
            tempfile.TemporaryDirectory() as tmp:
        trace_file = Path(tmp) / "trace.txt" if trace else None
        procs, base = start_app(database_url, llm.base_url, Path(tmp), workers, listen, trace_file)
        traced = []
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                token = client.post("/api/v1/auth/signup", json={
                    "email": f"bench-{uuid.uuid4().hex[:6]}@example.com", "password": "bench password 1"}).json()["token"]
                client.headers["Authorization"] = f"Bearer {token}"
                client.cookies.clear()
                latencies, firsts, wholes = [], [], []
                for batch in range(batches):
                    lat, first, whole, cards = run_topic(client, llm, batch, seconds)
                    traced.append(cards)
                    latencies += lat
                    firsts.append(first)
                    wholes.append(whole)
        finally:
            stop(procs)
        steps = breakdown(trace_file.read_text(), traced) if trace_file and trace_file.exists() else {}
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {
        "label": label, "n": len(latencies),
        "p50": statistics.median(latencies) * 1000, "p99": p99 * 1000, "max": latencies[-1] * 1000,
        "first": statistics.median(firsts), "whole": statistics.median(wholes), "steps": steps,
    }


def postgres_database(base_url: str) -> str:
    name = f"srs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="stream duration of a batch")
    parser.add_argument("--postgres", default=os.environ.get("SRS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--workers", type=int, default=2, help="separate `srs worker` processes")
    parser.add_argument("--separate-only", action="store_true", help="only the separate-worker runs")
    parser.add_argument("--trace", action="store_true",
                        help="also break each card's way down into steps (SRS_DELIVERY_TRACE)")
    args = parser.parse_args()
    results = []
    if not args.separate_only:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure("SQLite", f"sqlite:///{tmp}/bench.db", args.batches, args.seconds,
                                   trace=args.trace))
    runs = [] if args.separate_only else [("PostgreSQL", 0, True)]
    runs += [
        (f"PostgreSQL, API + {args.workers} `srs worker`, LISTEN/NOTIFY", args.workers, True),
        (f"PostgreSQL, API + {args.workers} `srs worker`, 0.5 s poll (`SRS_PG_LISTEN=false`)", args.workers, False),
    ]
    for label, workers, listen in runs if args.postgres else []:
        url = postgres_database(args.postgres)
        try:
            results.append(measure(label, url, args.batches, args.seconds, workers, listen, args.trace))
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    print(f"Machine: {machine()}")
    print(f"{args.batches} batches of {CARDS} cards, each streamed over {args.seconds:.0f} s\n")
    print("| database | cards | `</card>` -> client p50 | p99 | max | first card | whole batch parsed (baseline) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['label']} | {r['n']} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms | "
              f"{r['first']:.2f} s | {r['whole']:.2f} s | {r['whole'] / r['first']:.1f}x sooner |")
    traced = [r for r in results if r["steps"]]
    if traced:
        names = list(dict.fromkeys(name for r in traced for name in r["steps"]))
        print("\nEach step, ms: median over the cards whose every step was traced, and the "
              "slowest card's:\n")
        print("| step | " + " | ".join(f"{r['label']}: median | slowest" for r in traced) + " |")
        print("|---|" + "---|---|" * len(traced))
        for name in names:
            cells = [r["steps"].get(name) for r in traced]
            print(f"| {name} | " + " | ".join(
                "- | -" if c is None else (f"{c[0]} | {c[1]}" if name == "cards traced"
                                           else f"{c[0]:.1f} | {c[1]:.1f}")
                for c in cells) + " |")


if __name__ == "__main__":
    main()
