"""Deck scale: does a study step cost the same with 1,000, 10,000 and 100,000 cards in a topic?

    .venv/bin/python bench/deck_scale.py [--sizes 1000,10000,100000] [--steps 200]
        [--databases sqlite,postgres] [--baseline-ref REV] [--postgres URL]

For each database, a fresh `srs serve` (a separate process, like bench/load.py) and one learner
with 100 topics. 99 topics hold 100 cards each; the studied topic is grown to each size in
turn by inserting straight into the database (the HTTP API would take hours for 100,000
cards). The mix is a deck in use: most cards never seen, some in review (a few of them
overdue, most due later), a few in learning, suspended or buried until tomorrow; every seen
card has one answer in the review log. At each size one client studies the topic over HTTP:
`GET /topics/{id}/next`, then `POST /cards/{id}/review` (Again 15%, Good otherwise), `--steps`
times after a short warm-up, and reports p50 and p99 of each; then `GET /topics` (100 topics,
each with its counts) and the first page of `GET /topics/{id}/cards`.

`--baseline-ref REV` runs the code at that git revision beside this tree (exported with
`git archive` to a temporary folder, migrations included): two servers, two databases, the
same deck from the same seed, and their steps alternating (one step on each in turn), so the
machine's other load falls on both alike. It prints the ratio of each p50 and p99.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine
from load import PASSWORD, percentile, postgres_database, start_srs, stop

TOPICS = 100
OTHER_TOPIC_CARDS = 100
AGAIN_SHARE = 0.15
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
CARD_COLUMNS = (
    "topic_id",
    "user_id",
    "front",
    "back",
    "state",
    "step",
    "stability",
    "difficulty",
    "due",
    "last_review",
    "reps",
    "lapses",
    "suspended",
    "buried_until",
    "created_at",
    "updated_at",
)
SNAPSHOT = json.dumps(
    {
        "state": 2,
        "step": None,
        "stability": 10.0,
        "difficulty": 5.0,
        "due": "2026-01-01T00:00:00+00:00",
        "last_review": "2025-12-20T00:00:00+00:00",
        "reps": 3,
        "lapses": 0,
        "buried_until": None,
    }
)


# -- the deck ----------------------------------------------------------------------------------


def card_row(rng: random.Random, topic_id: int, user_id: int, i: int, now: datetime) -> tuple:
    """One card of a deck in use: 80% never seen, 17% in review (one in ten of them overdue),
    1% in learning, 1% suspended, 1% seen and buried; and 0.5% of the unseen buried."""
    front, back = f"Card {i} of topic {topic_id}: what is {i} squared?", str(i * i)
    created = now - timedelta(days=rng.uniform(1, 400))
    roll = rng.random()
    suspended, buried = False, None
    if roll < 0.80:
        if rng.random() < 0.005:
            buried = now + timedelta(hours=rng.uniform(1, 20))
        return (topic_id, user_id, front, back, 1, 0, None, None, created, None, 0, 0,
                suspended, buried, created, created)  # fmt: skip
    last = now - timedelta(days=rng.uniform(0.1, 200))
    if roll < 0.97:
        state, step = 2, None
        due = (
            now - timedelta(days=rng.uniform(0, 5))
            if rng.random() < 0.10
            else now + timedelta(hours=rng.uniform(1, 24 * 365))
        )
    elif roll < 0.98:
        state, step = rng.choice((1, 3)), 0
        last = now - timedelta(minutes=rng.uniform(1, 30))
        due = now + timedelta(minutes=rng.uniform(-20, 20))
    elif roll < 0.99:
        state, step, due, suspended = 2, None, now - timedelta(days=1), True
    else:
        state, step, due = 2, None, now - timedelta(days=2)
        buried = now + timedelta(hours=rng.uniform(1, 20))
    return (topic_id, user_id, front, back, state, step, rng.uniform(1, 300),
            rng.uniform(1, 10), due, last, rng.randint(1, 20), rng.randint(0, 3), suspended,
            buried, created, created)  # fmt: skip


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(SQLITE_DATETIME)
    if isinstance(value, bool):
        return int(value)
    return value


LOG_FROM_CARDS = (
    "INSERT INTO review_logs (card_id, topic_id, user_id, rating, reviewed_at, duration_ms, "
    "first_attempt, card_before) SELECT id, topic_id, user_id, 3, last_review, 5000, {false}, "
    "{snapshot} FROM cards WHERE id > {after} AND last_review IS NOT NULL"
)


def insert_cards(database_url: str, rows: list[tuple]) -> None:
    """Cards straight into the database, and one answer in the review log per seen card."""
    columns = ", ".join(CARD_COLUMNS)
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=60)
        try:
            after = conn.execute("SELECT coalesce(max(id), 0) FROM cards").fetchone()[0]
            marks = ", ".join("?" * len(CARD_COLUMNS))
            conn.executemany(
                f"INSERT INTO cards ({columns}) VALUES ({marks})",
                ([_sqlite_value(v) for v in row] for row in rows),
            )
            conn.execute(LOG_FROM_CARDS.format(false=0, snapshot="?", after=after), (SNAPSHOT,))
            conn.commit()
        finally:
            conn.close()
        return
    with psycopg.connect(database_url) as conn:
        after = conn.execute("SELECT coalesce(max(id), 0) FROM cards").fetchone()[0]
        with conn.cursor() as cursor, cursor.copy(f"COPY cards ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(LOG_FROM_CARDS.format(false="false", snapshot="%s", after=after), (SNAPSHOT,))
    # What autovacuum does soon after a large load anyway; without it a bench measures the
    # planner's guesses about a table it has never looked at.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cards")
        conn.execute("VACUUM ANALYZE review_logs")


# -- the learner -------------------------------------------------------------------------------


@dataclass
class Deck:
    client: httpx.Client
    user_id: int
    topics: list[int]  # the first is the one studied and grown

    @property
    def studied(self) -> int:
        return self.topics[0]


def make_learner(base: str) -> Deck:
    client = httpx.Client(base_url=base + "/api/v1", timeout=120)
    email = f"scale-{uuid.uuid4().hex[:12]}@example.com"
    r = client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    user_id = client.get("/me").raise_for_status().json()["id"]
    topics = []
    for n in range(TOPICS):
        r = client.post("/topics", json={"prompt": f"deck scale topic {n}"})
        r.raise_for_status()
        topics.append(r.json()["id"])
    return Deck(client=client, user_id=user_id, topics=topics)


def timed(call) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds * 1000, response


def step(deck: Deck, rng: random.Random) -> tuple[float, float]:
    """One study step: (ms for `next`, ms for the review of the card it gave)."""
    ms_next, r = timed(lambda: deck.client.get(f"/topics/{deck.studied}/next"))
    card = r.json()["card"]
    if card is None:
        raise RuntimeError("the studied topic ran dry")
    rating = 1 if rng.random() < AGAIN_SHARE else 3
    review = {"url": f"/cards/{card['id']}/review", "json": {"rating": rating}}
    ms_review, _ = timed(lambda: deck.client.post(**review))
    return ms_next, ms_review


def listing_and_page(deck: Deck) -> tuple[float, float]:
    """Medians of `GET /topics` (100 topics with their counts) and of the first card page."""
    listing = [timed(lambda: deck.client.get("/topics"))[0] for _ in range(9)]
    pages = []
    for _ in range(5):
        ms, r = timed(lambda: deck.client.get(f"/topics/{deck.studied}/cards"))
        pages.append(ms)
        page = r.json()
        if len(page["items"]) > 100 or page["next_cursor"] is None:
            raise RuntimeError("GET /topics/{id}/cards is not paginated")
    return statistics.median(listing), statistics.median(pages)


@dataclass
class Side:
    """One code tree under test: its server, database and learner."""

    label: str
    code: Path
    database_url: str
    proc: subprocess.Popen | None = None
    deck: Deck | None = None
    rng: random.Random | None = None


def run_side_by_side(sides: list[Side], sizes: list[int], args) -> list[dict]:
    """Every side gets the same deck (same seed); their steps alternate, so the machine's other
    load falls on both alike."""
    now = datetime.now(UTC)
    for side in sides:
        side.proc, base = start_srs(side.database_url, side.code)
        side.deck = make_learner(base)
        side.rng = random.Random(args.seed)
        insert_cards(
            side.database_url,
            [
                card_row(side.rng, topic_id, side.deck.user_id, i, now)
                for topic_id in side.deck.topics[1:]
                for i in range(OTHER_TOPIC_CARDS)
            ],
        )
    results = []
    loaded = 0
    for size in sizes:
        for side in sides:
            deck = side.deck
            rows = [
                card_row(side.rng, deck.studied, deck.user_id, i, now) for i in range(loaded, size)
            ]
            insert_cards(side.database_url, rows)
        loaded = size
        samples: dict[str, tuple[list[float], list[float]]] = {s.label: ([], []) for s in sides}
        for n in range(args.warmup + args.steps):
            for side in sides:
                ms_next, ms_review = step(side.deck, side.rng)
                if n >= args.warmup:
                    samples[side.label][0].append(ms_next)
                    samples[side.label][1].append(ms_review)
        for side in sides:
            nexts, reviews = (sorted(x) for x in samples[side.label])
            topics_ms, page_ms = listing_and_page(side.deck)
            result = {
                "code": side.label,
                "cards": size,
                "next": (statistics.median(nexts), percentile(nexts, 0.99)),
                "review": (statistics.median(reviews), percentile(reviews, 0.99)),
                "topics": topics_ms,
                "cards_page": page_ms,
            }
            results.append(result)
            print(
                f"  {side.label:9} {size:>7} cards: next {ms(result['next'])} ms, "
                f"review {ms(result['review'])} ms, GET /topics {topics_ms:.0f} ms, "
                f"cards page {page_ms:.0f} ms",
                file=sys.stderr,
                flush=True,
            )
    return results


def export(ref: str, into: Path) -> Path:
    """The tree at `ref`, as files (no worktree, no checkout of this one touched)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def fresh_database(kind: str, args, tmp: Path, label: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/{label.replace(' ', '_')}.db"
    return postgres_database(args.postgres)


def drop_databases(kind: str, args, sides: list[Side]) -> None:
    if kind != "postgres":
        return
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        for side in sides:
            name = side.database_url.rsplit("/", 1)[1]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} / {pair[1]:.1f}"


def ratio(base: float, now: float) -> str:
    return f"{base / now:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--steps", type=int, default=200, help="measured steps per size")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured steps per size")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--baseline-ref", default="", help="git revision to compare against")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SRS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    labels = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    results: dict[tuple[str, str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("this tree", ROOT)]
        if args.baseline_ref:
            base_tree = Path(tmp) / "baseline"
            base_tree.mkdir()
            trees.insert(0, (args.baseline_ref, export(args.baseline_ref, base_tree)))
        for kind in databases:
            print(f"{labels[kind]}: {', '.join(t[0] for t in trees)}", file=sys.stderr, flush=True)
            sides = [Side(label, code, fresh_database(kind, args, Path(tmp), label))
                     for label, code in trees]  # fmt: skip
            try:
                for r in run_side_by_side(sides, sizes, args):
                    results[(kind, r["code"], r["cards"])] = r
            finally:
                for side in sides:
                    if side.deck is not None:
                        side.deck.client.close()
                    if side.proc is not None:
                        stop(side.proc)
                drop_databases(kind, args, sides)

    print(f"Machine: {machine()}")
    print(
        f"{TOPICS} topics ({OTHER_TOPIC_CARDS} cards in each of the others); {args.steps} "
        f"measured steps per size after {args.warmup} unmeasured; times in ms\n"
    )
    head = "| database | code | cards in topic | `next` p50 / p99 | `review` p50 / p99 |"
    head += " `GET /topics` p50 | cards page p50 |"
    print(head)
    print("|---|---|---|---|---|---|---|")
    for (kind, label, size), r in results.items():
        print(
            f"| {labels[kind]} | {label} | {size:,} | {ms(r['next'])} | {ms(r['review'])} | "
            f"{r['topics']:.0f} | {r['cards_page']:.0f} |"
        )
    if args.baseline_ref:
        print("\nRatio, baseline / this tree (higher is faster now):\n")
        print(
            "| database | cards in topic | `next` p50 | `next` p99 | `review` p50 | `review` p99 |"
            " `GET /topics` p50 |"
        )
        print("|---|---|---|---|---|---|---|")
        for kind in databases:
            for size in sizes:
                b, n = results[(kind, args.baseline_ref, size)], results[(kind, "this tree", size)]
                print(
                    f"| {labels[kind]} | {size:,} | {ratio(b['next'][0], n['next'][0])} | "
                    f"{ratio(b['next'][1], n['next'][1])} | "
                    f"{ratio(b['review'][0], n['review'][0])} | "
                    f"{ratio(b['review'][1], n['review'][1])} | "
                    f"{ratio(b['topics'], n['topics'])} |"
                )


if __name__ == "__main__":
    main()
