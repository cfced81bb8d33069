"""Card delivery latency: from the moment the scripted LLM server emits a card's </card> to the
moment a long-polling client receives that card, through `srs serve` (a separate process) on
SQLite and PostgreSQL, and on PostgreSQL with the cards made by separate `srs worker` processes
(woken through LISTEN/NOTIFY, and with the listener off: the old 0.5 s poll). Also the time to
first card, against the same batch parsed only once
complete (the moment the last byte of the batch left the server: a whole-batch parser cannot
show any card earlier than that, so the baseline is a lower bound).

    .venv/bin/python bench/stream_latency.py [--batches 5] [--seconds 10] [--postgres URL]
        [--workers 2] [--separate-only]
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
    database_url: str, llm_url: str, workdir: Path, workers: int = 0, listen: bool = True
) -> tuple[list[subprocess.Popen], str]:
    """`srs serve`, and with `workers` that many separate `srs worker` processes (the API's
    embedded worker then off). The first process is the API."""
    env = scripted_env(
        database_url, llm_url, SRS_PLAN_FREE_TOPICS="1000", SRS_PLAN_FREE_CARDS="100000",
        SRS_REFILL_BELOW="0",  # one batch per topic: no refill competing for scripted replies
        SRS_PG_LISTEN=str(listen).lower(),
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
    return [r - s for r, s in zip(received, sent)], received[0] - started, whole_batch - started


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
    label: str, database_url: str, batches: int, seconds: float, workers: int = 0, listen: bool = True
) -> dict:
    with ScriptedLLMServer(default=Reply(status=400, error_message="bench: no refill")) as llm, \
            tempfile.TemporaryDirectory() as tmp:
        procs, base = start_app(database_url, llm.base_url, Path(tmp), workers, listen)
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                token = client.post("/api/v1/auth/signup", json={
                    "email": f"bench-{uuid.uuid4().hex[:6]}@example.com", "password": "bench password 1"}).json()["token"]
                client.headers["Authorization"] = f"Bearer {token}"
                client.cookies.clear()
                latencies, firsts, wholes = [], [], []
                for batch in range(batches):
                    lat, first, whole = run_topic(client, llm, batch, seconds)
                    latencies += lat
                    firsts.append(first)
                    wholes.append(whole)
        finally:
            stop(procs)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return {
        "label": label, "n": len(latencies),
        "p50": statistics.median(latencies) * 1000, "p99": p99 * 1000, "max": latencies[-1] * 1000,
        "first": statistics.median(firsts), "whole": statistics.median(wholes),
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
    args = parser.parse_args()
    results = []
    if not args.separate_only:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure("SQLite", f"sqlite:///{tmp}/bench.db", args.batches, args.seconds))
    runs = [] if args.separate_only else [("PostgreSQL", 0, True)]
    runs += [
        (f"PostgreSQL, API + {args.workers} `srs worker`, LISTEN/NOTIFY", args.workers, True),
        (f"PostgreSQL, API + {args.workers} `srs worker`, 0.5 s poll (`SRS_PG_LISTEN=false`)", args.workers, False),
    ]
    for label, workers, listen in runs if args.postgres else []:
        url = postgres_database(args.postgres)
        try:
            results.append(measure(label, url, args.batches, args.seconds, workers, listen))
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


if __name__ == "__main__":
    main()
