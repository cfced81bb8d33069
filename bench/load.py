"""Load: N simulated learners studying (GET next, then POST review) against `srs serve` (a
separate process) on SQLite and on PostgreSQL, and the same client code against a bare FastAPI
app under the same uvicorn settings, in the same run. Reports study steps per second, p50 and
p99 per request, the ratio to the bare app, and the first learner count whose p99 passes 100 ms.

    .venv/bin/python bench/load.py [--learners 1,2,4,8,16,32,64] [--seconds 10] [--warmup 2]
        [--databases sqlite,postgres] [--no-baseline] [--postgres URL] [--profile DIR]
        [--one-trip] [--api-processes N] [--old-main DIR] [--client wire|httpx]

Each learner has its own account and studies decks of hand-written cards (`--cards` per topic,
no LLM: generation is off, so the run measures the study loop), with no pause between cards.
A learner moves to its next deck when `next` returns no card; decks are added between sweep
points so nobody runs dry. The client (one asyncio process, one keep-alive connection per
learner, `Wire` below unless `--client httpx`) shares the machine with the server: it is what
limits the bare `async def` app. `--old-main DIR` also serves an older checkout (e.g. `git
worktree add DIR 564c66c`) on PostgreSQL, one process on h11 as it shipped, and adds a table
of this tree's throughput against it at each learner count. `--profile DIR` records the server
with py-spy (`.venv/bin/pip install py-spy`) and prints where its Python time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httptools
import httpx
import psycopg
from fastapi import FastAPI
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import machine

from tests.support.server import free_port

P99_LIMIT_MS = 100.0
AGAIN_SHARE = 0.15  # the rest of the answers are Good
MAX_STEPS_PER_LEARNER = 1_000_000  # a bound besides the clock
PASSWORD = "bench password 1"
SRS_COMMAND = [sys.executable, "-m", "srs.cli"]


# -- the bare baseline app (served by uvicorn in its own process) ------------------------------


class Answer(BaseModel):
    rating: int


def baseline_app() -> FastAPI:
    """One GET and one POST with a JSON body, in an `async def` and in a `def` flavour (most of
    our endpoints are `def` and run in the threadpool)."""
    app = FastAPI()

    @app.get("/async/next")
    async def async_next() -> dict:
        return {"card": {"id": 1, "front": "Capital of France?", "back": "Paris"}}

    @app.post("/async/review")
    async def async_review(body: Answer) -> dict:
        return {"card": {"id": 1, "rating": body.rating}}

    @app.get("/sync/next")
    def sync_next() -> dict:
        return {"card": {"id": 1, "front": "Capital of France?", "back": "Paris"}}

    @app.post("/sync/review")
    def sync_review(body: Answer) -> dict:
        return {"card": {"id": 1, "rating": body.rating}}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


# -- servers -----------------------------------------------------------------------------------


def _wait_healthy(proc: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server at {base} did not start")


def _srs_env(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRS_")}
    env.update(
        SRS_DATABASE_URL=database_url,
        SRS_PORT=str(port),
        SRS_LLM_PROVIDER="",
        SRS_RATE_SIGNUP_PER_HOUR="0",
        SRS_RATE_TOPICS_PER_HOUR="0",
        SRS_PLAN_FREE_TOPICS="100000",
        SRS_NEW_CARDS_PER_DAY="100000",
    )
    return env


def start_srs(database_url: str, workdir: Path, processes: int = 1) -> tuple[subprocess.Popen, str]:
    """`srs serve`, with `processes` API processes (`--workers`, PostgreSQL only)."""
    return _serve(["--workers", str(processes)], database_url, workdir)


def start_old_main(database_url: str, workdir: Path, code: Path) -> tuple[subprocess.Popen, str]:
    """The old main's `srs serve` (one process), as it shipped: on h11 and asyncio's loop. Its
    uvicorn is on "auto", which would take this venv's httptools and uvloop, so a directory on
    PYTHONPATH hides them (their import fails, as in a venv without them)."""
    hide = workdir / "hide-httptools-uvloop"
    for name in ("httptools", "uvloop"):
        (hide / name).mkdir(parents=True)
        (hide / name / "__init__.py").write_text(
            f"raise ImportError('{name}: not in the old main')\n"
        )
    return _serve([], database_url, workdir, python_path=f"{hide}:{code}")


def _serve(
    options: list[str], database_url: str, workdir: Path, python_path: str | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = _srs_env(database_url, port)
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    proc = subprocess.Popen(
        [*SRS_COMMAND, "--log-level", "warning", "serve", *options],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, base)
    return proc, base


def start_baseline() -> tuple[subprocess.Popen, str]:
    """Same uvicorn settings as `srs serve`: httptools and uvloop, warning logs, no access log."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "load:baseline_app",
            "--app-dir",
            str(ROOT / "bench"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--timeout-graceful-shutdown",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, base)
    return proc, base


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads), and of its child processes
    (`srs serve --workers N` runs the API in N children)."""
    total = _own_cpu(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            total += _own_cpu(int(child))
        except FileNotFoundError:
            pass  # the child ended
    return total


def _own_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- learners ----------------------------------------------------------------------------------


@dataclass
class Learner:
    token: str
    topics: list[int] = field(default_factory=list)
    cursor: int = 0  # index in `topics` of the deck being studied
    answered: int = 0  # new cards answered so far (all decks)

    def cards_left(self, per_topic: int) -> int:
        return len(self.topics) * per_topic - self.answered


@dataclass
class Sample:
    kind: str  # "next" or "review"
    started: float
    seconds: float


@dataclass
class Target:
    """Where a learner's two requests go: the real API, or the bare app's two endpoints."""

    label: str
    base: str
    pid: int
    real: bool
    flavour: str = ""  # "async" or "sync" for the bare app
    one_trip: bool = False  # a step is one `review?next=1` (the web app's way)
    client: str = "wire"  # the learners' HTTP client: "wire" (below) or "httpx"


class WireResponse:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code, self.body = status_code, body

    def json(self):
        return json.loads(self.body)


class _Message:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        self.done = True


WIRE_ERRORS = (OSError, httptools.HttpParserError)


class Wire:
    """One learner's keep-alive HTTP/1.1 connection, its requests written by hand and its
    answers parsed by httptools (uvicorn's parser). The client shares the two cores with the
    server, where a real learner's browser costs the server nothing; httpx spent about 1.4 ms
    of CPU a request, a third of a core at 16 learners, and this about a third of that (the
    tables in docs/benchmarks.md, session 12, give both)."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port
        fixed = {"host": f"{self.host}:{self.port}", **headers}
        self.head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params, None)

    def post(self, path: str, params: dict | None = None, json: dict | None = None):
        return self.request("POST", path, params, json)

    async def request(self, method: str, path: str, params: dict | None, body: dict | None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = b"" if body is None else json.dumps(body).encode()
        target = f"{path}?{urlencode(params)}" if params else path
        head = f"{method} {target} HTTP/1.1\r\n{self.head}content-length: {len(data)}\r\n"
        if body is not None:
            head += "content-type: application/json\r\n"
        message = _Message()
        parser = httptools.HttpResponseParser(message)
        try:
            async with asyncio.timeout(30):  # as httpx's timeout was
                self.writer.write(head.encode() + b"\r\n" + data)
                while not message.done:
                    chunk = await self.reader.read(65536)
                    if not chunk:
                        raise ConnectionResetError("the server closed the connection")
                    parser.feed_data(chunk)
        except BaseException:
            await self.aclose()  # the next request opens a new connection
            raise
        if not parser.should_keep_alive():
            await self.aclose()
        return WireResponse(parser.get_status_code(), b"".join(message.body))

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def signup(client: httpx.AsyncClient) -> Learner:
    email = f"load-{uuid.uuid4().hex[:12]}@example.com"
    r = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return Learner(token=r.json()["token"])


async def add_deck(
    client: httpx.AsyncClient, learner: Learner, cards: int, gate: asyncio.Semaphore
) -> None:
    headers = {"Authorization": f"Bearer {learner.token}"}
    async with gate:
        r = await client.post(
            "/api/v1/topics", json={"prompt": f"load deck {uuid.uuid4().hex[:6]}"}, headers=headers
        )
        r.raise_for_status()
    topic_id = r.json()["id"]

    async def one(i: int) -> None:
        async with gate:
            r = await client.post(
                f"/api/v1/topics/{topic_id}/cards",
                headers=headers,
                json={
                    "front": f"Card {i} of deck {topic_id}: what is {i} + {topic_id}?",
                    "back": str(i + topic_id),
                },
            )
            r.raise_for_status()

    await asyncio.gather(*(one(i) for i in range(cards)))
    learner.topics.append(topic_id)


async def provision(base: str, pool: list[Learner], count: int, need: int, per_topic: int) -> int:
    """Grow the pool to `count` learners, each with at least `need` unanswered cards. Returns the
    number of cards added."""
    added = 0
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=httpx.Limits(max_connections=8)
    ) as client:
        while len(pool) < count:
            pool.append(await signup(client))
        jobs = []
        for learner in pool[:count]:
            missing = max(0, need - learner.cards_left(per_topic))
            for _ in range(math.ceil(missing / per_topic)):
                jobs.append(add_deck(client, learner, per_topic, gate))
                added += per_topic
        await asyncio.gather(*jobs)
    return added


async def _timed(
    kind: str, request: Awaitable[httpx.Response], samples: list[Sample], outcome: Counter
) -> httpx.Response | None:
    """Await one request, keep its latency, and count a failure (None) by kind and cause."""
    started = time.perf_counter()  # the request only starts when awaited here
    try:
        response = await request
    except (httpx.HTTPError, *WIRE_ERRORS) as error:
        outcome[f"{kind} {type(error).__name__}"] += 1
        return None
    samples.append(Sample(kind, started, time.perf_counter() - started))
    if response.status_code != 200:
        outcome[f"{kind} {response.status_code}"] += 1
        return None
    return response


async def study(
    client: httpx.AsyncClient | Wire,
    target: Target,
    learner: Learner | None,
    rng: random.Random,
    end: float,
    samples: list[Sample],
    outcome: Counter,
) -> None:
    """One learner: next, then review the card it got, until `end`. A request that fails is
    counted; three in a row end the learner. With `target.one_trip` a step is one request, as
    the web app makes it: the review answers with the topic's next card (`?next=1`)."""
    failures = 0
    card = None
    for _ in range(MAX_STEPS_PER_LEARNER):
        if target.one_trip and card is not None:
            if time.perf_counter() >= end or failures >= 3:
                return
            rating = 1 if rng.random() < AGAIN_SHARE else 3
            review = client.post(
                f"/api/v1/cards/{card['id']}/review", params={"next": 1}, json={"rating": rating}
            )
            r = await _timed("review", review, samples, outcome)
            if r is None:
                failures, card = failures + 1, None
                continue
            failures = 0
            outcome["steps"] += 1
            learner.answered += card["state"] == "new"
            card = r.json()["next"]["card"]
            if card is None:
                learner.cursor += 1
            continue
        if time.perf_counter() >= end or failures >= 3:
            return
        if target.real:
            if learner.cursor >= len(learner.topics):
                outcome["ran dry"] += 1
                return
            next_url = f"/api/v1/topics/{learner.topics[learner.cursor]}/next"
        else:
            next_url = f"/{target.flavour}/next"
        r = await _timed("next", client.get(next_url), samples, outcome)
        if r is None:
            failures += 1
            continue
        card = r.json()["card"]
        if card is None:  # deck finished: the new cards are all answered, the rest not yet due
            learner.cursor += 1
            continue
        if target.one_trip:
            continue  # answered by the next step's review
        rating = 1 if rng.random() < AGAIN_SHARE else 3
        review_url = (
            f"/api/v1/cards/{card['id']}/review" if target.real else f"/{target.flavour}/review"
        )
        review = client.post(review_url, json={"rating": rating})
        r = await _timed("review", review, samples, outcome)
        if r is None:
            failures += 1
            continue
        failures = 0
        outcome["steps"] += 1
        if target.real and card["state"] == "new":
            learner.answered += 1


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


async def run_point(
    target: Target, learners: list[Learner | None], warmup: float, seconds: float, seed: int
) -> dict:
    n = len(learners)
    samples: list[Sample] = []
    outcome: Counter = Counter()
    clients = []
    for learner in learners:
        headers = {"Authorization": f"Bearer {learner.token}"} if learner else {}
        if target.client == "wire":
            clients.append(Wire(target.base, headers))
            continue
        clients.append(
            httpx.AsyncClient(
                base_url=target.base,
                headers=headers,
                timeout=30,
                limits=httpx.Limits(max_connections=1),
            )
        )
    try:
        start = time.perf_counter()
        window_start, end = start + warmup, start + warmup + seconds
        tasks = [
            asyncio.create_task(
                study(c, target, learner, random.Random(seed * 1000 + i), end, samples, outcome)
            )
            for i, (c, learner) in enumerate(zip(clients, learners))
        ]
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        server_cpu, client_cpu, busy = (
            cpu_seconds(target.pid),
            time.process_time(),
            machine_busy_seconds(),
        )
        steps_before = outcome["steps"]
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        server_cpu, client_cpu = (
            cpu_seconds(target.pid) - server_cpu,
            time.process_time() - client_cpu,
        )
        busy = machine_busy_seconds() - busy
        steps = outcome["steps"] - steps_before
        await asyncio.gather(*tasks)
    finally:
        for c in clients:
            await c.aclose()
    # A request counts when it started inside the measured window.
    window = [s for s in samples if window_start <= s.started < end]
    result = {
        "label": target.label,
        "learners": n,
        "steps_per_s": steps / seconds,
        "server_cpu": server_cpu / seconds,
        "client_cpu": client_cpu / seconds,
        "machine_cpu": busy / seconds,
        "problems": {k: v for k, v in outcome.items() if k != "steps"},
    }
    for kind in ("all", "next", "review"):
        ms = sorted(s.seconds * 1000 for s in window if kind in ("all", s.kind))
        result[kind] = {
            "n": len(ms),
            "p50": statistics.median(ms) if ms else math.nan,
            "p99": percentile(ms, 0.99) if ms else math.nan,
        }
    return result


# -- profiling (optional) ----------------------------------------------------------------------


def py_spy() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def start_profile(pid: int, out: Path, seconds: float) -> subprocess.Popen | None:
    exe = py_spy()
    if exe is None:
        print("--profile: py-spy not found (.venv/bin/pip install py-spy)", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(math.ceil(seconds)),
            "--rate",
            "250",
            "--format",
            "raw",
            "--gil",
            "--subprocesses",  # `--api-processes N`: the worker processes, not their parent
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _package(frame: str) -> str:
    """`Session.scalar (sqlalchemy/orm/session.py:2616)` -> `sqlalchemy`."""
    path = frame.rpartition(" (")[2].rstrip(")").rpartition(":")[0]
    if path.startswith("<frozen") or "/" not in path:
        return "stdlib"
    top = path.split("/", 1)[0]
    return top if top not in STDLIB_DIRS else "stdlib"


STDLIB_DIRS = {"asyncio", "concurrent", "json", "logging", "email", "http", "urllib", "importlib"}


def summarize_profile(path: Path, top: int = 15) -> str:
    """From `py-spy --gil --format raw` (collapsed stacks of the thread holding the GIL): the
    share of samples per package of the innermost frame (self time), and the inclusive share of
    our own functions (srs/)."""
    own: Counter = Counter()
    ours: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.rpartition(":")[0] + ")" for f in stack.split(";")]  # drop line numbers
        own[_package(stack.split(";")[-1])] += n
        for frame in set(frames):
            if "(srs/" in frame and "srs/cli.py" not in frame:
                ours[frame] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples of the thread holding the GIL. Self time by package:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(10)]
    lines.append("Inclusive time of our functions:")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in ours.most_common(top)]
    return "\n".join(lines)


# -- the sweep ---------------------------------------------------------------------------------


async def sweep_srs(
    label: str, database_url: str, counts: list[int], args, old_main: Path | None = None
) -> list[dict]:
    """`old_main`: serve that checkout's code instead (one process, two requests a step)."""
    results = []
    one_trip = args.one_trip and old_main is None
    with tempfile.TemporaryDirectory() as tmp:
        if old_main is None:
            proc, base = start_srs(database_url, Path(tmp), args.api_processes)
        else:
            proc, base = start_old_main(database_url, Path(tmp), old_main)
        try:
            pool: list[Learner] = []
            estimate = args.guess  # steps per second, raised to the best seen so far
            for n in counts:
                # Every learner needs enough cards for an even share of the run, with slack.
                need = math.ceil(estimate * (args.warmup + args.seconds) * 1.5 / n) + 10
                setup = time.perf_counter()
                added = await provision(base, pool, n, need, args.cards)
                setup = time.perf_counter() - setup
                target = Target(
                    label, base, proc.pid, real=True, one_trip=one_trip, client=args.client
                )
                profiler = None
                if args.profile:
                    out = Path(args.profile) / f"{label.lower()}-{n}.txt"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    profiler = (start_profile(proc.pid, out, args.warmup + args.seconds), out)
                r = await run_point(target, pool[:n], args.warmup, args.seconds, seed=n)
                if profiler and profiler[0]:
                    profiler[0].wait(timeout=args.warmup + args.seconds + 30)
                    r["profile"] = summarize_profile(profiler[1])
                r["setup"] = f"{added} cards in {setup:.0f} s"
                estimate = max(estimate, r["steps_per_s"])
                results.append(r)
                report_progress(r, r["setup"])
        finally:
            stop(proc)
    return results


async def sweep_baseline(counts: list[int], args) -> list[dict]:
    results = []
    proc, base = start_baseline()
    try:
        for flavour, signature in (("async", "async def"), ("sync", "def")):
            target = Target(
                f"bare FastAPI `{signature}`",
                base,
                proc.pid,
                real=False,
                flavour=flavour,
                client=args.client,
            )
            for n in counts:
                r = await run_point(target, [None] * n, args.warmup, args.seconds, seed=n)
                results.append(r)
                report_progress(r)
    finally:
        stop(proc)
    return results


def report_progress(r: dict, note: str = "") -> None:
    print(
        f"  {r['label']:<28} {r['learners']:>3} learners: {r['steps_per_s']:7.1f} steps/s, "
        f"p50 {r['all']['p50']:6.1f} ms, p99 {r['all']['p99']:6.1f} ms, "
        f"CPU server {100 * r['server_cpu']:.0f}% client {100 * r['client_cpu']:.0f}% "
        f"machine {100 * r['machine_cpu']:.0f}%"
        + (f", problems {r['problems']}" if r["problems"] else "")
        + (f" ({note})" if note else ""),
        file=sys.stderr,
        flush=True,
    )


def postgres_database(base_url: str) -> str:
    name = f"srs_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name


def first_over(results: list[dict]) -> str:
    over = [r["learners"] for r in results if r["all"]["p99"] > P99_LIMIT_MS]
    return f"{over[0]} learners" if over else f"not reached (up to {results[-1]['learners']})"


def print_tables(results: list[dict], baseline: dict[tuple[str, int], dict], args) -> None:
    print(f"Machine: {machine()}")
    print(
        f"{args.warmup:.0f} s warm-up, then {args.seconds:.0f} s measured per point; decks of "
        f"{args.cards} hand-written cards; answers Again {AGAIN_SHARE:.0%}, Good otherwise\n"
    )
    print(
        "| server | learners | steps/s | p50 | p99 | next p50 / p99 | review p50 / p99 | "
        "CPU server / client / machine |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        a, nx, rv = r["all"], r["next"], r["review"]
        next_cells = (
            f"{nx['p50']:.1f} / {nx['p99']:.1f} ms" if not r["label"].startswith("bare") else "—"
        )
        review_cells = f"{rv['p50']:.1f} / {rv['p99']:.1f} ms" if next_cells != "—" else "—"
        print(
            f"| {r['label']} | {r['learners']} | {r['steps_per_s']:.0f} | {a['p50']:.1f} ms | "
            f"{a['p99']:.1f} ms | {next_cells} | {review_cells} | {100 * r['server_cpu']:.0f}% / "
            f"{100 * r['client_cpu']:.0f}% / {100 * r['machine_cpu']:.0f}% |"
        )
    real = [r for r in results if not r["label"].startswith("bare")]
    old = {r["learners"]: r for r in results if r["label"].startswith("old main")}
    if old:
        print("\nAgainst the old main at the same learner count (steps/s, this tree / old main):\n")
        print("| server | learners | steps/s | old main's | ratio | p99 | old main's |")
        print("|---|---|---|---|---|---|---|")
        for r in (r for r in real if r["label"] == "PostgreSQL"):  # the old main's database
            o = old.get(r["learners"])
            if o is None:
                continue
            ratio = r["steps_per_s"] / o["steps_per_s"] if o["steps_per_s"] else math.inf
            print(
                f"| {r['label']} | {r['learners']} | {r['steps_per_s']:.0f} | "
                f"{o['steps_per_s']:.0f} | {ratio:.1f}x | {r['all']['p99']:.1f} ms | "
                f"{o['all']['p99']:.1f} ms |"
            )
    if baseline:
        print(
            "\nRatio to the bare app at the same learner count (ours / bare; throughput: bare / ours):\n"
        )
        print(
            "| server | learners | p50 vs `async def` | p99 vs `async def` | throughput vs `async def` | "
            "p50 vs `def` | p99 vs `def` | throughput vs `def` |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in real:
            cells = []
            for flavour in ("async", "sync"):
                b = baseline.get((flavour, r["learners"]))
                if b is None:
                    cells += ["—"] * 3
                    continue
                cells += [
                    f"{r['all']['p50'] / b['all']['p50']:.1f}x",
                    f"{r['all']['p99'] / b['all']['p99']:.1f}x",
                    f"{b['steps_per_s'] / r['steps_per_s']:.1f}x"
                    if r["steps_per_s"]
                    else "stalled",
                ]
            print(f"| {r['label']} | {r['learners']} | " + " | ".join(cells) + " |")
    print()
    for label in dict.fromkeys(r["label"] for r in results):
        rows = [r for r in results if r["label"] == label]
        print(f"- {label}: p99 passes {P99_LIMIT_MS:.0f} ms at {first_over(rows)}")
    for r in results:
        if r["problems"]:
            print(f"- {r['label']}, {r['learners']} learners: {r['problems']}")
        if "profile" in r:
            print(
                f"\nProfile of `srs serve` ({r['label']}, {r['learners']} learners):\n{r['profile']}"
            )


async def main_async(args) -> None:
    counts = [int(x) for x in args.learners.split(",")]
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    results: list[dict] = []
    baseline: dict[tuple[str, int], dict] = {}
    started = time.monotonic()
    if args.baseline:
        print("bare FastAPI app", file=sys.stderr)
        for r in await sweep_baseline(counts, args):
            baseline[("async" if "async def" in r["label"] else "sync", r["learners"])] = r
            results.append(r)
    if "sqlite" in databases:
        print("SQLite", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            results += await sweep_srs("SQLite", f"sqlite:///{tmp}/bench.db", counts, args)
    if "postgres" in databases:
        sweeps = [("PostgreSQL", None)]
        if args.old_main:
            sweeps.insert(0, ("old main, PostgreSQL", Path(args.old_main).resolve()))
        for label, code in sweeps:
            print(label, file=sys.stderr)
            url = postgres_database(args.postgres)
            try:
                results += await sweep_srs(label, url, counts, args, code)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    print(f"total {time.monotonic() - started:.0f} s", file=sys.stderr)
    print_tables(results, baseline, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", default="1,2,4,8,16,32,64", help="learner counts to sweep")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per point")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each point"
    )
    parser.add_argument("--cards", type=int, default=100, help="hand-written cards per deck")
    parser.add_argument(
        "--guess",
        type=float,
        default=300.0,
        help="steps per second expected, to size the decks of the first point",
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument(
        "--api-processes", type=int, default=1, help="`srs serve --workers N` (PostgreSQL only)"
    )
    parser.add_argument(
        "--old-main",
        metavar="DIR",
        help="also serve the checkout in DIR (e.g. `git worktree add DIR 564c66c`), one process "
        "on h11 as it shipped, two requests a step, on PostgreSQL before this tree",
    )
    parser.add_argument(
        "--client",
        choices=("wire", "httpx"),
        default="wire",
        help="the learners' HTTP client: a hand-written keep-alive one (default) or httpx",
    )
    parser.add_argument(
        "--one-trip",
        action="store_true",
        help="a step is one POST review?next=1, as the web app makes it "
        "(default: GET next, then POST review)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SRS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="record `srs serve` with py-spy (--gil) during each point, into DIR; "
        "sampling slows the server, so profile in a separate run",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
