"""Cards from each embedded model, for a person to grade, made the way a learner gets them.

For each model, an in-process `srs serve` (API, worker, ticker; SQLite in a temporary
directory; every setting at its default but the model) and one learner who creates each of
5 topics over HTTP, as the web app does. The service then runs its real path: the first
batch, the outline, batches aimed at the least-covered subtopics, the duplicate check. Once a
topic's generation is idle, the learner asks for another batch (`POST /topics/{id}/generate`),
until the topic has had `--batches` card batches. The cards are read back from the API and
written, with each batch's timings and the outline, to bench/results/local_quality-<model>.json.

    .venv/bin/python bench/local_quality.py [--models qwen-1.5b,gemma-270m] [--batches 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine

from srs.kit.migrate import upgrade
from srs.kit.settings import Settings
from tests.conftest import Api
from tests.support.server import running_app

TOPICS = (
    "Capitals of European countries",
    "Python list methods",
    "The French Revolution",
    "Basic chemistry: elements, atoms and simple reactions",
    "Spanish A1 vocabulary: everyday words with their English meaning",
)
RESULTS = Path(__file__).resolve().parent / "results"
ACTIVE = ("queued", "running")


def settings(directory: str, key: str, threads: int | None) -> Settings:
    url = f"sqlite:///{directory}/bench.db"
    upgrade(url)
    return Settings(
        _env_file=None,
        env="test",
        database_url=url,
        llm_provider="local",
        local_model=key,
        local_threads=threads,
        secret_key="bench-secret-" + "x" * 32,
    )


def wait_idle(api: Api, topic_id: int) -> dict:
    while True:
        topic = api.get(f"/topics/{topic_id}").json()
        if topic["generation"]["status"] not in ACTIVE:
            return topic
        time.sleep(1)


def all_cards(api: Api, topic_id: int) -> list[dict]:
    cards, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/topics/{topic_id}/cards", params=params).json()
        cards += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return sorted(cards, key=lambda c: c["id"])


def one_topic(api: Api, prompt: str, batches: int) -> dict:
    started = time.monotonic()
    created = api.post("/topics", json={"prompt": prompt})
    assert created.status_code == 201, created.text
    topic = created.json()
    first_card = None
    while first_card is None:
        answer = api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json()
        if answer["card"] is not None:
            first_card = round(time.monotonic() - started, 1)
        elif answer["generation"]["status"] not in ACTIVE:
            break
    runs = []
    for number in range(1, batches + 1):
        if number > 1:
            api.post(f"/topics/{topic['id']}/generate")
        before = time.monotonic()
        state = wait_idle(api, topic["id"])
        runs.append({"batch": number, "seconds": round(time.monotonic() - before, 1),
                     "status": state["generation"]["status"], "error": state["generation"]["error"]})
        print(f"  {prompt[:30]:30} | batch {number}: {state['generation']['status']} "
              f"after {runs[-1]['seconds']} s", flush=True)
        if state["generation"]["status"] == "failed":
            break
    cards = all_cards(api, topic["id"])
    # Held back (the card rules, the answer check): never shown, listed to grade what it cost.
    held = api.get(f"/topics/{topic['id']}/held-back", params={"limit": 500}).json()["items"]
    outline = api.get(f"/topics/{topic['id']}/outline").json()
    duplicates = api.get(f"/topics/{topic['id']}/duplicates").json()["items"]
    api.post(f"/topics/{topic['id']}/archive")  # the free plan's topic limit counts live ones
    return {
        "topic": prompt,
        "first_card_seconds": first_card,
        "batches": runs,
        "outline": [s["name"] for s in outline["subtopics"]],
        "duplicates_rejected": len(duplicates),
        "cards": [
            {"front": c["front"], "back": c["back"],
             "subtopic": (c["subtopic"] or {}).get("name"), "level": c["level"]}
            for c in cards
        ],
        "held": [
            {"front": c["front"], "back": c["back"], "label": c["label"], "reason": c["reason"]}
            for c in sorted(held, key=lambda c: c["id"])
        ],
    }


def run_model(key: str, batches: int, threads: int | None, topics: list[str], path: Path) -> None:
    """The file is rewritten after each topic, so a long run can be graded while it goes on."""
    with tempfile.TemporaryDirectory() as directory, \
            running_app(settings(directory, key, threads)) as (url, app):
        api = Api(url)
        api.signup("bench@example.com")
        provider = app.state.worker.provider()
        while not provider.warm:
            time.sleep(0.5)
        result = {"model": provider.model, "key": key, "threads": provider.threads,
                  "machine": machine(), "topics": []}
        for prompt in topics:
            result["topics"].append(one_topic(api, prompt, batches))
            path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
            done = result["topics"][-1]
            print(f"{key} | {prompt[:30]:30} | {len(done['cards'])} cards "
                  f"({len(done['held'])} held back), first after "
                  f"{done['first_card_seconds']} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="qwen-1.5b,gemma-270m")
    parser.add_argument("--batches", type=int, default=3, help="card batches per topic")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: the physical cores, as `srs serve`)")
    parser.add_argument("--topics", default=None,
                        help="numbers of the topics to run, e.g. 0,1 (default: all)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    chosen = [int(n) for n in args.topics.split(",")] if args.topics else range(len(TOPICS))
    part = f"-topics{args.topics.replace(',', '')}" if args.topics else ""
    for key in args.models.split(","):
        path = RESULTS / f"local_quality-{key}{part}.json"
        run_model(key, args.batches, args.threads, [TOPICS[n] for n in chosen], path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
