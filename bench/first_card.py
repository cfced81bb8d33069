"""Time to the first card with the embedded model, through the real app: cold and warm.

In-process `srs serve` (API, worker, ticker; SQLite in a temporary directory) with the default
embedded model; a learner signs up, creates a topic and long-polls `GET /topics/{id}/next`.

- cold: the topic is created the moment the app has started, while the start-up warm-up is
  still loading the model (what the very first learner after `make run` gets);
- warm: a new app, the topic created once the warm-up has finished (model loaded, system prompt
  evaluated);
- warm, second topic: another topic after the first one's batch ended (the KV cache then holds
  the previous batch, and the saved system-prompt state or llama.cpp's prefix reuse applies).

Then, at the provider: the time to the first streamed token of one request with the system
prompt's state cached against the same request after `llama.reset()` (nothing cached): the
prompt processing the cache skips.

    .venv/bin/python bench/first_card.py [--runs 2] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine

from srs.generation import prompts
from srs.kit.migrate import upgrade
from srs.kit.settings import Settings
from srs.llm.base import TextDelta
from srs.llm.local import LocalProvider
from tests.conftest import Api
from tests.support.server import running_app

TOPICS = ("Capitals of European countries", "Python list methods", "Basic chemistry")


THREADS: int | None = None  # --threads; default: the physical cores, as in `srs serve`


def settings(directory: str) -> Settings:
    url = f"sqlite:///{directory}/bench.db"
    upgrade(url)
    return Settings(
        _env_file=None,
        env="test",
        database_url=url,
        llm_provider="local",
        local_threads=THREADS,
        batch_size=4,  # the first card does not depend on it; the warm run waits for the batch
        secret_key="bench-secret-" + "x" * 32,
    )


def first_card(api: Api, prompt: str) -> float:
    started = time.monotonic()
    topic = api.post("/topics", json={"prompt": prompt}).json()
    while True:
        answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json()
        if answer["card"] is not None:
            return time.monotonic() - started
        if answer["generation"]["status"] == "failed":
            raise RuntimeError(answer["generation"]["error"])


def wait_idle(api: Api) -> None:
    # The first page of topics is enough: the bench makes two.
    while any(
        t["generation"]["status"] in ("queued", "running")
        for t in api.get("/topics").json()["items"]
    ):
        time.sleep(0.5)


def through_the_app(cold: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as directory, running_app(settings(directory)) as (url, app):
        api = Api(url)
        api.signup("bench@example.com")
        if not cold:
            while not app.state.worker.provider().warm:
                time.sleep(0.2)
        times = [first_card(api, TOPICS[0])]
        if not cold:
            wait_idle(api)
            times.append(first_card(api, TOPICS[1]))
        wait_idle(api)
        return times


async def first_token(provider: LocalProvider, cached: bool) -> float:
    request = prompts.build_request(TOPICS[2], 3, 8, [], max_tokens=4, temperature=0.7)
    llama = provider._load()
    if not cached:
        llama.reset()
        provider._main.system_states.clear()
    started = time.monotonic()
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            return time.monotonic() - started
    raise RuntimeError("no token")


async def at_the_provider(runs: int) -> tuple[list[float], list[float]]:
    provider = LocalProvider(threads=THREADS)
    provider.warm_up(prompts.system_prompt()).join()
    cached, uncached = [], []
    for _ in range(runs):
        uncached.append(await first_token(provider, cached=False))
        provider.warm_up(prompts.system_prompt()).join()
        cached.append(await first_token(provider, cached=True))
    await provider.aclose()
    return cached, uncached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-cold", action="store_true", help="only the warm runs")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    print(f"machine: {machine()}; load average before: {os.getloadavg()}")
    cold = [] if args.skip_cold else [through_the_app(cold=True)[0] for _ in range(args.runs)]
    print(f"cold, topic at start-up:        {', '.join(f'{t:.1f} s' for t in cold)}", flush=True)
    warm = [through_the_app(cold=False) for _ in range(args.runs)]
    print(f"warm, first topic:              {', '.join(f'{w[0]:.1f} s' for w in warm)}")
    print(f"warm, second topic:             {', '.join(f'{w[1]:.1f} s' for w in warm)}", flush=True)
    if args.skip_cold:
        return
    cached, uncached = asyncio.run(at_the_provider(args.runs))
    print(f"first token, system prompt cached:   median {statistics.median(cached):.2f} s ({cached})")
    print(f"first token, nothing cached (reset): median {statistics.median(uncached):.2f} s ({uncached})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
