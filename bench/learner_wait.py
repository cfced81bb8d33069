"""Does a learner wait for the embedded model? Learners at 12, 6 and 3 s a card, through the
real app and the real model: what bench/buffer_sim.py simulates, met the way a learner meets it.

An in-process `srs serve` (SQLite in a temporary directory, every setting at its default: the
embedded model, the answer check on, the adaptive refill), the model warm before the first
topic. For each pace a new learner (a free account of their own) creates the topic and studies
`--cards` new cards the way the web app does: the first card by long-polling
`GET /topics/{id}/next?wait=30`, then each answer as `POST /cards/{id}/review?next=1` after
`pace` seconds of thinking. Every answer is Easy, so each next card is a new one (nothing
comes back for relearning while the session lasts: the case where the buffer matters). When
an answer comes back without a next card, the learner long-polls `next` until one arrives:
that time is their wait.

Reports per learner: seconds to the first card, the seconds waited after it (total, longest,
and how many times a wait was over half a second), and the topic's cards written, held back
and rejected as repeats.

    .venv/bin/python bench/learner_wait.py [--topic "Python list methods"] [--cards 40]
        [--paces 12,6,3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine
from local_quality import settings

from tests.conftest import Api
from tests.support.server import running_app

EASY = 4
NOTICED = 0.5  # seconds: a shorter wait is the request itself, not the model


class FeedEnded(Exception):
    """No card is coming: the topic's generation stopped."""


def wait_for_card(api: Api, topic_id: int) -> tuple[dict, float]:
    """Long-poll `next` until a card is ready: (the answer, seconds waited)."""
    started = time.monotonic()
    idle = 0
    while True:
        answer = api.get(f"/topics/{topic_id}/next", params={"wait": 30}).json()
        if answer["card"] is not None:
            return answer, time.monotonic() - started
        status = answer["generation"]["status"]
        idle = idle + 1 if status == "idle" else 0
        if status in ("failed", "quota_exceeded", "paused") or idle == 3:
            raise FeedEnded(f"{status}: {answer['generation']['error']}")


def study(url: str, email: str, prompt: str, cards: int, pace: float) -> dict:
    api = Api(url)
    api.signup(email)
    api.patch("/me", json={"new_cards_per_day": max(cards, 20)})
    started = time.monotonic()
    topic = api.post("/topics", json={"prompt": prompt}).json()
    answer, _ = wait_for_card(api, topic["id"])
    first = time.monotonic() - started
    waits: list[float] = []
    ended = None
    for _ in range(cards - 1):
        time.sleep(pace)
        card = answer["card"]
        asked = time.monotonic()
        reviewed = api.post(
            f"/cards/{card['id']}/review",
            params={"next": 1},
            json={"rating": EASY, "duration_ms": int(pace * 1000), "review_id": uuid.uuid4().hex},
        )
        assert reviewed.status_code == 200, reviewed.text
        answer = reviewed.json()["next"]
        try:
            if answer["card"] is None:
                answer, _ = wait_for_card(api, topic["id"])
        except FeedEnded as error:
            ended = f"after {len(waits) + 1} cards ({error})"
            break
        waits.append(time.monotonic() - asked)
    written = api.get(f"/topics/{topic['id']}/cards", params={"limit": 500}).json()["items"]
    held = api.get(f"/topics/{topic['id']}/held-back", params={"limit": 500}).json()["items"]
    repeats = api.get(f"/topics/{topic['id']}/duplicates", params={"limit": 500}).json()["items"]
    noticed = [w for w in waits if w > NOTICED]
    return {
        "pace": pace,
        "first": first,
        "waited": sum(noticed),
        "longest": max(waits, default=0.0),
        "times": len(noticed),
        "cards": len(written),
        "held": len(held),
        "repeats": len(repeats),
        "ended": ended,
        "waits": [round(w, 1) for w in waits],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="Python list methods")
    parser.add_argument("--cards", type=int, default=40, help="cards each learner studies")
    parser.add_argument("--paces", default="12,6,3", help="seconds a card, one learner each")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as directory, \
            running_app(settings(directory, "qwen-1.5b", None)) as (url, app):
        provider = app.state.worker.provider()
        while not provider.warm:
            time.sleep(0.5)
        assert app.state.worker.checks_answers(provider), "the answer check is off"
        for number, pace in enumerate(float(p) for p in args.paces.split(",")):
            rows.append(study(url, f"learner{number}@example.com", args.topic, args.cards, pace))
            print(f"  {rows[-1]}", flush=True)
    print(f"topic: {args.topic}; {args.cards} cards a learner, each answered Easy; "
          f"model {provider.model}, warm before the first topic")
    print("| learner | first card | waited after it (total) | longest | waits over 0.5 s | "
          "cards written | held back | repeats rejected |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pace']:g} s a card | {r['first']:.1f} s | {r['waited']:.1f} s | "
              f"{r['longest']:.1f} s | {r['times']} | {r['cards']} | {r['held']} | "
              f"{r['repeats']} |")
    for r in rows:
        if r["ended"]:
            print(f"The {r['pace']:g} s learner's feed ended {r['ended']}")


if __name__ == "__main__":
    main()
