"""Abuse: another learner's `PATCH /me` and `GET /topics/{id}/next` while one user attacks a
running `srs serve` (a separate process) on SQLite and on PostgreSQL (a fresh database), beside
an idle baseline measured in the same run against the same server (issue 13, item 6).

    .venv/bin/python bench/abuse.py [--seconds 10] [--databases sqlite,postgres]
        [--postgres URL] [--workers 0]

Attacks, one after another:
- a 60-login spray: 60 concurrent logins from one address, each with another unknown email;
- 300 long-polls (`next?wait=30`) opened at once by one user on a topic whose batch is on its
  way, again half a second after each burst's refusals are answered, for as long as the victim
  runs (the per-user cap answers all but 10 with 429: that is the defence); then the 10 held
  open, measured on their own;
- two endless model streams: two attackers whose topics get replies that never end (prose
  with no `<cards>`, and a `<front>` that never closes), each starting a new topic as soon as
  the last one failed; the server's resident memory is sampled every 0.1 s;
- two stalled streams: an attacker's two topics get a provider that sends its headers and
  then nothing (for the 60 s chunk timeout); a new learner's new topic is timed to its first
  card meanwhile.

The attacker's requests go out as a flood script sends them: raw HTTP/1.1, one connection each,
the polls from a process of their own (bench/_flood.py). Before, an httpx pool in this process
spent 3.3 s of CPU sending 300 polls, on the event loop that times the victim.
The model is the scripted LLM server of the tests over real HTTP; the victim studies a topic of
10 generated cards and does one PATCH and one GET every 20 ms, one at a time. Generation runs
in the API process (`--workers 0`) or in that many separate `srs worker` processes (the API's
embedded worker off). Job retries wait 0.05 s (not 1 s), so a failing attacker is back at once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _serve
from _flood import POLLS, send_raw
from _machine import machine
from _serve import scripted_env, stop

from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import (
    ReceivedRequest,
    Reply,
    ScriptedLLMServer,
    is_outline_request,
    outline_xml,
)

P99_LIMIT_MS = 100.0
RSS_LIMIT_MB = 100.0
PASSWORD = "bench password 1"
PAUSE = 0.02  # between two steps of the victim
SPRAY = 60
# How long the poll target's outline is on its way: past the victim's time (set from --seconds).
POLL_TTFT = 13.0


def responder(request: ReceivedRequest) -> Reply:
    """The model, by the topic's prompt."""
    prompt = json.dumps(request.json)
    if "Poll target" in prompt:
        return Reply(text=outline_xml(), ttft=POLL_TTFT)
    if "Stalled" in prompt:
        return Reply(hang=True)
    if is_outline_request(request.json):
        return Reply(text=outline_xml())
    if "Endless prose" in prompt:
        endless = "Hmm, maybe a <card> about that... "
        return Reply(text="Let me think. ", endless=endless, chunk_chars=4096, send_usage=False)
    if "Endless front" in prompt:
        endless = "a front that never ends & never closes "
        return Reply(text="<cards><card><front>", endless=endless, chunk_chars=4096,
                     send_usage=False)
    return Reply(text=batch_xml(capitals(10)))


# -- the server --------------------------------------------------------------------------------


def start_app(
    database_url: str, llm_url: str, workdir: Path, workers: int
) -> tuple[list[subprocess.Popen], str]:
    env = scripted_env(
        database_url, llm_url, SRS_LLM_RETRY_DELAY="0.05", SRS_RATE_SIGNUP_PER_HOUR="0",
        SRS_RATE_TOPICS_PER_HOUR="0", SRS_PLAN_FREE_TOPICS="100000", SRS_PLAN_FREE_CARDS="1000000",
    )
    return _serve.start_app(env, workdir, workers)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


class RssSampler:
    """The largest resident size of the server processes (together) while it runs."""

    def __init__(self, pids: list[int], every: float = 0.1) -> None:
        self.pids, self.every = pids, every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(sum(rss_mb(pid) for pid in self.pids))
            self._stop.wait(self.every)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max(self.samples)


# -- clients -----------------------------------------------------------------------------------


def client(base: str, token: str | None = None, connections: int = 4) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=base + "/api/v1", headers=headers, timeout=60,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def signup(base: str, name: str) -> str:
    async with client(base) as http:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        r = await http.post("/auth/signup", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        return r.json()["token"]


async def first_card(http: httpx.AsyncClient, prompt: str) -> tuple[int, float]:
    """A new topic, and the seconds until its first card reaches a long-polling client."""
    started = time.perf_counter()
    r = await http.post("/topics", json={"prompt": prompt})
    r.raise_for_status()
    topic_id = r.json()["id"]
    while True:
        answer = (await http.get(f"/topics/{topic_id}/next", params={"wait": 30})).json()
        if answer["card"] is not None:
            return topic_id, time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"no first card: {answer['generation']}")


@dataclass
class Victim:
    token: str
    topic_id: int
    samples: dict[str, list[float]] = field(default_factory=lambda: {"patch": [], "next": []})
    errors: Counter = field(default_factory=Counter)

    async def run(self, base: str, until: asyncio.Future | float) -> None:
        """One PATCH /me and one GET next at a time until `until` (a time or a done future)."""
        zones = itertools.cycle(["Europe/Paris", "Asia/Tokyo"])
        async with client(base, self.token, connections=1) as http:
            while not (until.done() if isinstance(until, asyncio.Future)
                       else time.perf_counter() >= until):
                for kind, call in (
                    ("patch", lambda: http.patch("/me", json={"timezone": next(zones)})),
                    ("next", lambda: http.get(f"/topics/{self.topic_id}/next")),
                ):
                    started = time.perf_counter()
                    try:
                        r = await call()
                    except httpx.HTTPError as error:
                        self.errors[f"{kind} {type(error).__name__}"] += 1
                        continue
                    self.samples[kind].append((time.perf_counter() - started) * 1000)
                    if r.status_code != 200:
                        self.errors[f"{kind} {r.status_code}"] += 1
                await asyncio.sleep(PAUSE)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


# -- the attacks -------------------------------------------------------------------------------


@dataclass
class Context:
    base: str
    llm: ScriptedLLMServer
    pids: list[int]
    seconds: float
    cap: int = 10  # SRS_LONG_POLLS_PER_USER
    # Attackers' accounts, made before any measurement: a sign-up hashes a password (64 MiB
    # for a moment), which is not what the memory column is about.
    accounts: list[str] = field(default_factory=list)

    def account(self) -> str:
        return self.accounts.pop()


async def idle(ctx: Context, done: asyncio.Event) -> str:
    await done.wait()
    return "no attack"


async def login_spray(ctx: Context, done: asyncio.Event) -> str:
    async def one(i: int) -> int:
        email = f"spray-{i}-{uuid.uuid4().hex[:6]}@example.com"
        body = {"email": email, "password": "wrong guess 1"}
        return await send_raw(ctx.base, "POST", "/auth/login", body=body)

    started = time.perf_counter()
    statuses = Counter(await asyncio.gather(*(one(i) for i in range(SPRAY))))
    seconds = time.perf_counter() - started
    return (f"{SPRAY} logins in {seconds:.1f} s: "
            + ", ".join(f"{n}x {code}" for code, n in sorted(statuses.items())))


class LongPolls:
    """One user sends 300 polls at once, again each time the last burst's refusals are all
    answered (after a pause), for as long as the victim runs; then, separately, the steady
    state with the polls that the cap let through held open. The polls go out from a process
    of their own (bench/_flood.py)."""

    def __init__(self) -> None:
        self.flood: asyncio.subprocess.Process | None = None

    async def _report(self) -> dict:
        assert self.flood is not None and self.flood.stdin and self.flood.stdout
        self.flood.stdin.write(b"next\n")
        await self.flood.stdin.drain()
        return json.loads(await self.flood.stdout.readline())

    async def burst(self, ctx: Context, done: asyncio.Event) -> str:
        token = ctx.account()
        async with client(ctx.base, token) as http:
            topic_id = (await http.post("/topics", json={"prompt": "Poll target"})).json()["id"]
            while (await http.get(f"/topics/{topic_id}")).json()["generation"]["status"] != "running":
                await asyncio.sleep(0.05)
        self.flood = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("_flood.py")), ctx.base, token,
            str(topic_id), str(ctx.cap), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        await done.wait()
        report = await self._report()
        times = sorted(report["bursts"])
        return (f"{len(times)} bursts of {POLLS} polls at once; a burst's refusals answered in "
                f"{statistics.median(times):.2f} s (median), {times[-1]:.2f} s (slowest): "
                f"{_counts(report['statuses'])}")

    async def held(self, ctx: Context, done: asyncio.Event) -> str:
        await done.wait()
        report = await self._report()
        assert self.flood is not None
        await self.flood.wait()
        return f"{report['held']} polls held open the whole time; {_counts(report['statuses'])}"


def _counts(statuses: dict) -> str:
    return ", ".join(f"{n}x {code}" for code, n in sorted(statuses.items()))


async def _churn(ctx: Context, prompt: str, done: asyncio.Event, counts: Counter) -> None:
    """One attacker: a new topic each time the last one's generation failed."""
    async with client(ctx.base, ctx.account()) as http:
        for n in itertools.count():
            r = await http.post("/topics", json={"prompt": f"{prompt} {n}"})
            r.raise_for_status()
            topic_id = r.json()["id"]
            while not done.is_set():
                topic = (await http.get(f"/topics/{topic_id}")).json()
                if topic["generation"]["status"] == "failed":
                    counts["failed topics"] += 1
                    break
                await asyncio.sleep(0.2)
            if done.is_set():
                return


async def endless_streams(ctx: Context, done: asyncio.Event) -> str:
    counts: Counter = Counter()
    before = len(ctx.llm.requests)
    await asyncio.gather(
        _churn(ctx, "Endless prose", done, counts), _churn(ctx, "Endless front", done, counts)
    )
    streams = sum("Endless" in json.dumps(r.json) for r in ctx.llm.requests[before:])
    return f"{streams} endless replies read, {counts['failed topics']} topics failed"


async def stalled_streams(ctx: Context, done: asyncio.Event) -> str:
    """One attacker, two topics whose provider stalls: one stream is held open (the other
    waits its turn: one running job per learner); a newcomer's new topic goes meanwhile."""
    before = len(ctx.llm.requests) + len(ctx.llm.outline_requests)
    async with client(ctx.base, ctx.account()) as http:
        for n in range(2):
            (await http.post("/topics", json={"prompt": f"Stalled topic {n}"})).raise_for_status()
    while sum("Stalled" in json.dumps(r.json)
              for r in (ctx.llm.requests + ctx.llm.outline_requests)[before:]) < 1:
        await asyncio.sleep(0.05)
    async with client(ctx.base, ctx.account()) as http:
        _topic, seconds = await first_card(http, "World capitals")
    await done.wait()
    opened = sum("Stalled" in json.dumps(r.json)
                 for r in (ctx.llm.requests + ctx.llm.outline_requests)[before:])
    return (f"{opened} of the 2 stalled streams open at once; a new learner's first card "
            f"came in {seconds:.2f} s")


def scenarios() -> list:
    polls = LongPolls()
    return [
        ("idle (baseline)", idle),
        ("60-login spray", login_spray),
        ("two endless model streams", endless_streams),
        ("two stalled streams", stalled_streams),
        # Last: the poll target's batch keeps a worker slot until the polls are over.
        ("300 long-polls: repeated bursts", polls.burst),
        ("300 long-polls: held open", polls.held),
    ]


# -- running -----------------------------------------------------------------------------------


FOR_A_WHILE = ("idle", "held", "endless", "stalled", "burst")


async def scenario(ctx: Context, victim: Victim, attack) -> dict:
    """The victim runs beside the attack: for `seconds` against a lasting attack, and until
    it is over against a burst (the login spray). Memory is compared with a second of quiet
    just before."""
    victim.samples = {"patch": [], "next": []}
    victim.errors = Counter()
    with RssSampler(ctx.pids) as quiet:
        await asyncio.sleep(1.0)
    done = asyncio.Event()
    with RssSampler(ctx.pids) as rss:
        attack_task = asyncio.create_task(attack(ctx, done))
        if any(word in attack.__name__ for word in FOR_A_WHILE):
            await asyncio.sleep(0.0 if attack is idle else 1.0)  # the attack is under way
            await victim.run(ctx.base, time.perf_counter() + ctx.seconds)
        else:
            await victim.run(ctx.base, attack_task)
        done.set()
        note = await attack_task
    return {
        "note": note,
        "errors": dict(victim.errors),
        "rss_before": max(quiet.samples),
        "rss_peak": rss.peak,
        **{
            kind: {"n": len(ms), "p50": statistics.median(ms) if ms else math.nan,
                   "p99": percentile(ms, 0.99)}
            for kind, ms in victim.samples.items()
        },
    }


async def wait_idle(http: httpx.AsyncClient, topic_ids: list[int]) -> None:
    """Until no batch is on its way for these topics (their cards are embedded and saved)."""
    for topic_id in topic_ids:
        while (await http.get(f"/topics/{topic_id}")).json()["generation"]["status"] != "idle":
            await asyncio.sleep(0.1)


async def run_database(label: str, database_url: str, args: argparse.Namespace) -> dict:
    with ScriptedLLMServer(responder=responder) as llm, tempfile.TemporaryDirectory() as tmp:
        procs, base = start_app(database_url, llm.base_url, Path(tmp), args.workers)
        try:
            ctx = Context(base, llm, [p.pid for p in procs], args.seconds)
            ctx.accounts = [await signup(base, "attacker") for _ in range(6)]
            token = await signup(base, "victim")
            async with client(base, token) as http:
                topic_id, _seconds = await first_card(http, "Victim deck")
                second_id, idle_first = await first_card(http, "Victim second deck")
                await wait_idle(http, [topic_id, second_id])
            victim = Victim(token, topic_id)
            await victim.run(base, time.perf_counter() + 2)  # warm-up
            results = {}
            for name, attack in scenarios():
                if args.only and name not in args.only:
                    continue
                print(f"{label}: {name}", file=sys.stderr)
                results[name] = await scenario(ctx, victim, attack)
            results["_first_card_idle"] = idle_first
        finally:
            stop(procs)
    return results


def postgres_database(base_url: str) -> str:
    name = f"srs_abuse_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name


def print_table(label: str, results: dict) -> None:
    print(f"\n### {label}\n")
    print("| scenario | `PATCH /me` p50 / p99 | `GET next` p50 / p99 | requests | "
          "server RSS peak (vs the second before) | what the attack got |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        if name.startswith("_"):
            continue
        rss = f"{r['rss_peak']:.0f} MB ({r['rss_peak'] - r['rss_before']:+.0f})"
        ok = all(r[k]["p99"] < P99_LIMIT_MS for k in ("patch", "next"))
        note = r["note"] + (f"; victim errors {r['errors']}" if r["errors"] else "")
        print(f"| {name} | {r['patch']['p50']:.1f} / {r['patch']['p99']:.1f} ms | "
              f"{r['next']['p50']:.1f} / {r['next']['p99']:.1f} ms{'' if ok else ' (over)'} | "
              f"{r['patch']['n'] + r['next']['n']} | {rss} | {note} |")
    print(f"\nA new learner's first card with no attack: {results['_first_card_idle']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="victim time per attack")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get(
        "SRS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--workers", type=int, default=0,
                        help="separate `srs worker` processes (0: the API's embedded worker)")
    parser.add_argument("--only", type=lambda s: s.split(","), default=None,
                        help="comma-separated scenario names")
    args = parser.parse_args()
    global POLL_TTFT
    POLL_TTFT = args.seconds + 30  # the polls' burst, then `seconds` held
    load_before = Path("/proc/loadavg").read_text().split()[0]
    tables = []
    for database in args.databases.split(","):
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                tables.append(("SQLite", asyncio.run(
                    run_database("SQLite", f"sqlite:///{tmp}/abuse.db", args))))
        else:
            url = postgres_database(args.postgres)
            try:
                tables.append(("PostgreSQL", asyncio.run(run_database("PostgreSQL", url, args))))
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    workers = "the API's embedded worker" if args.workers == 0 else f"{args.workers} `srs worker`"
    print(f"Machine: {machine()}; load average before {load_before}, after "
          f"{Path('/proc/loadavg').read_text().split()[0]}")
    print(f"`srs serve`, generation by {workers}; victim {args.seconds:.0f} s per attack; "
          f"target p99 < {P99_LIMIT_MS:.0f} ms, RSS within {RSS_LIMIT_MB:.0f} MB of idle")
    for label, results in tables:
        print_table(label, results)


if __name__ == "__main__":
    main()
