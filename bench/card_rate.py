"""The embedded model's card rate through the real app, with the answer check: what the buffer
bench (bench/buffer_sim.py) takes as the model's speed.

An in-process `srs serve` (SQLite in a temporary directory, every setting at its default: the
embedded model, the answer check on), one learner, one topic; the model warm before the topic
is created. The learner asks for `--batches` batches in a row; the bench watches the topic's
cards and held-back cards (every 0.2 s) and notes when each first appeared. Reports per batch:
seconds to its first card written (shown or held), seconds between cards written, and the
share held back; and the seconds between shown cards, which is what a learner waits on.

    .venv/bin/python bench/card_rate.py [--topic "Capitals of European countries"] [--batches 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine
from local_quality import ACTIVE, settings

from tests.conftest import Api
from tests.support.server import running_app


def watch_batch(api: Api, topic_id: int, seen: dict[tuple[str, int], float]) -> dict:
    """Until the topic's generation is idle: when each card and held card first showed up."""
    started = time.monotonic()
    new: list[tuple[float, str]] = []
    while True:
        status = api.get(f"/topics/{topic_id}").json()["generation"]["status"]
        cards = api.get(f"/topics/{topic_id}/cards", params={"limit": 500}).json()["items"]
        held = api.get(f"/topics/{topic_id}/held-back", params={"limit": 500}).json()["items"]
        now = time.monotonic()
        for kind, items in (("shown", cards), ("held", held)):
            for item in items:
                if (kind, item["id"]) not in seen:
                    seen[(kind, item["id"])] = now
                    new.append((now - started, kind))
        if status not in ACTIVE:
            return {"seconds": now - started, "cards": sorted(new)}
        time.sleep(0.2)


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="Capitals of European countries")
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as directory, \
            running_app(settings(directory, "qwen-1.5b", None)) as (url, app):
        api = Api(url)
        api.signup("bench@example.com")
        provider = app.state.worker.provider()
        while not provider.warm:
            time.sleep(0.5)
        assert app.state.worker.checks_answers(provider), "the answer check is off"
        topic = api.post("/topics", json={"prompt": args.topic}).json()
        seen: dict[tuple[str, int], float] = {}
        batches = []
        for number in range(1, args.batches + 1):
            if number > 1:
                api.post(f"/topics/{topic['id']}/generate")
            batches.append(watch_batch(api, topic["id"], seen))
    print(f"topic: {args.topic}; {args.batches} batches; model warm before the topic")
    print("| batch | seconds | cards written | held back | first written | "
          "between written (median) | between shown (median) |")
    print("|---|---|---|---|---|---|---|")
    all_written, all_shown = [], []
    for number, batch in enumerate(batches, start=1):
        written = [t for t, _ in batch["cards"]]
        shown = [t for t, kind in batch["cards"] if kind == "shown"]
        held = len(written) - len(shown)
        all_written += gaps(written)
        all_shown += gaps(shown)
        print(f"| {number} | {batch['seconds']:.0f} | {len(written)} | {held} | "
              f"{written[0] if written else float('nan'):.1f} s | {median(gaps(written))} | "
              f"{median(gaps(shown))} |")
    print(f"all batches: between written cards median {statistics.median(all_written):.1f} s "
          f"(p90 {statistics.quantiles(all_written, n=10)[-1]:.1f} s); between shown cards "
          f"median {statistics.median(all_shown):.1f} s")


if __name__ == "__main__":
    main()
