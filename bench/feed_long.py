"""A long feed on one topic with a forgetful scripted model: repeats that reach the learner,
distinct facts wrongly dropped, prompt size per batch and dedup time per card, for the code
in this checkout and, in the same run, for a baseline commit (today's behaviour).

The model knows a universe of facts about an invented land, grouped in subtopics; each fact
has three wordings. It writes a new fact unless it "forgets": once a fact it wrote is no
longer listed in the prompt, each card it writes is, with probability --forget (0.4), one of
those facts again in words it has not used yet. It answers outline requests with the first 12
subtopics and extension requests with 6 more (until it has none left: then it repeats old
names). A card request naming a subtopic gets facts of that subtopic; one naming none (the
baseline, which has no outline) gets facts of the whole land.

Each tree runs as a real `srs serve` process on a fresh SQLite file, talking real HTTP to the
model; the learner only creates the topic (a large SRS_REFILL_BELOW keeps batches coming).
Each false merge (a rejected card whose matched card is another fact) is printed, from the
topic's `GET /topics/{id}/duplicates`.

    .venv/bin/python bench/feed_long.py [--cards 300] [--batches 50] [--baseline 564c66c]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import machine

from tests.support.llm_server import (
    ReceivedRequest,
    Reply,
    ScriptedLLMServer,
    is_outline_request,
)
from tests.support.server import free_port

# (subtopic, scope, three wordings of a question about {e}, the answer, value range)
SUBJECTS = [
    (
        "Cities",
        "The towns of Veloria and how many live there",
        [
            "What is the population of {e}?",
            "How many people live in {e}?",
            "Roughly how many inhabitants does {e} have?",
        ],
        "{v} thousand people",
        (20, 900),
    ),
    (
        "Rivers",
        "Veloria's rivers and their lengths",
        [
            "How long is the river {e}?",
            "What is the length of the {e} river?",
            "The {e} river runs for how many kilometres?",
        ],
        "{v} km",
        (40, 1900),
    ),
    (
        "Mountains",
        "Peaks of Veloria and their heights",
        [
            "How high is Mount {e}?",
            "What is the height of Mount {e}?",
            "Mount {e} rises to what elevation?",
        ],
        "{v} m",
        (900, 4800),
    ),
    (
        "Kings",
        "The rulers of Veloria and when they were crowned",
        [
            "In which year was King {e} crowned?",
            "When did King {e}'s reign begin?",
            "King {e} came to the throne in what year?",
        ],
        "{v}",
        (900, 1800),
    ),
    (
        "Battles",
        "Battles fought in Veloria",
        [
            "In what year was the Battle of {e} fought?",
            "When did the Battle of {e} take place?",
            "The Battle of {e} happened in which year?",
        ],
        "{v}",
        (900, 1850),
    ),
    (
        "Lakes",
        "Lakes of Veloria and their depths",
        [
            "How deep is Lake {e}?",
            "What is the maximum depth of Lake {e}?",
            "Lake {e} reaches down how many metres at its deepest?",
        ],
        "{v} m",
        (5, 600),
    ),
    (
        "Islands",
        "Islands off Veloria's coast and their areas",
        [
            "What is the area of the island of {e}?",
            "How large is {e} island?",
            "The island {e} covers how many square kilometres?",
        ],
        "{v} km²",
        (2, 900),
    ),
    (
        "Treaties",
        "Treaties Veloria signed",
        [
            "In which year was the Treaty of {e} signed?",
            "When was the Treaty of {e} concluded?",
            "The Treaty of {e} dates from what year?",
        ],
        "{v}",
        (1100, 1900),
    ),
    (
        "Festivals",
        "Festivals and the days they fall on",
        [
            "On which day of the year is the {e} festival held?",
            "When in the year do Velorians celebrate {e}?",
            "The feast of {e} falls on what day of the year?",
        ],
        "day {v}",
        (1, 365),
    ),
    (
        "Guilds",
        "Craft guilds and their founding",
        [
            "When was the {e} guild founded?",
            "In what year did the {e} guild begin?",
            "The guild of {e} was established in which year?",
        ],
        "{v}",
        (1000, 1700),
    ),
    (
        "Roads",
        "Old roads and their lengths",
        [
            "How long is the {e} road?",
            "What length does the {e} highway have?",
            "The road called {e} stretches for how many kilometres?",
        ],
        "{v} km",
        (10, 700),
    ),
    (
        "Forests",
        "Forests of Veloria and their size",
        [
            "How large is the {e} forest?",
            "What area does {e} forest cover?",
            "The forest of {e} spans how many hectares?",
        ],
        "{v} hectares",
        (100, 9000),
    ),
    # Deeper subtopics: the model offers them when asked to extend the outline.
    (
        "Poets",
        "Poets and the year of their best-known work",
        [
            "In which year did the poet {e} publish their best-known work?",
            "When did {e} write their most famous poem?",
            "The poet {e}'s masterpiece appeared in what year?",
        ],
        "{v}",
        (1200, 1900),
    ),
    (
        "Ships",
        "Famous ships and when they were launched",
        [
            "When was the ship {e} launched?",
            "In what year did the {e} first set sail?",
            "The vessel {e} was put to sea in which year?",
        ],
        "{v}",
        (1300, 1900),
    ),
    (
        "Temples",
        "Temples and how many columns they have",
        [
            "How many columns does the temple of {e} have?",
            "What is the column count of {e}'s temple?",
            "The temple at {e} stands on how many pillars?",
        ],
        "{v} columns",
        (4, 120),
    ),
    (
        "Mines",
        "Mines and how deep their shafts go",
        [
            "How deep is the {e} mine?",
            "What depth does the shaft of the {e} mine reach?",
            "The {e} mine goes down how many metres?",
        ],
        "{v} m",
        (20, 1500),
    ),
    (
        "Bridges",
        "Bridges and their spans",
        [
            "How long is the {e} bridge?",
            "What is the span of the {e} bridge?",
            "The bridge at {e} crosses how many metres?",
        ],
        "{v} m",
        (15, 900),
    ),
    (
        "Universities",
        "Universities and when they opened",
        [
            "When was the University of {e} founded?",
            "In which year did the University of {e} open?",
            "The University of {e} admitted its first students in what year?",
        ],
        "{v}",
        (1100, 1900),
    ),
    (
        "Canals",
        "Canals and their lengths",
        [
            "How long is the {e} canal?",
            "What is the length of the {e} canal?",
            "The canal of {e} is how many kilometres long?",
        ],
        "{v} km",
        (3, 300),
    ),
    (
        "Fortresses",
        "Fortresses and when they were built",
        [
            "When was the fortress of {e} built?",
            "In what year was {e} fortress completed?",
            "The stronghold of {e} was finished in which year?",
        ],
        "{v}",
        (800, 1700),
    ),
    (
        "Libraries",
        "Libraries and how many books they hold",
        [
            "How many volumes does the {e} library hold?",
            "What is the size of the {e} library's collection?",
            "The library of {e} keeps how many books?",
        ],
        "{v} thousand volumes",
        (2, 900),
    ),
    (
        "Coins",
        "Coins and their weight in silver",
        [
            "How much silver is in the {e} coin?",
            "What does the {e} coin weigh in silver?",
            "The {e} coin contains how many grams of silver?",
        ],
        "{v} g",
        (1, 40),
    ),
    (
        "Harbours",
        "Harbours and how many ships they berth",
        [
            "How many ships can berth in the harbour of {e}?",
            "What is the berth count of {e} harbour?",
            "The port of {e} has room for how many vessels?",
        ],
        "{v} ships",
        (5, 400),
    ),
    (
        "Observatories",
        "Observatories and the altitude they stand at",
        [
            "At what altitude is the {e} observatory?",
            "How high up is the {e} observatory?",
            "The observatory of {e} stands how many metres above the sea?",
        ],
        "{v} m",
        (100, 4000),
    ),
]
REGIONS = ["North", "South", "East", "West", "Coast", "Highlands"]
FIRST_OUTLINE = 12
EXTENSION = 6
SYLLABLES = [
    "al",
    "bre",
    "cor",
    "dun",
    "el",
    "fen",
    "gar",
    "hal",
    "ir",
    "jor",
    "kel",
    "lor",
    "mar",
    "nor",
    "ol",
    "pen",
    "quel",
    "ros",
    "sel",
    "tor",
    "ul",
    "var",
    "wen",
    "yr",
    "zan",
    "ath",
    "mir",
    "dal",
    "ven",
    "tha",
]


@dataclass(frozen=True)
class Fact:
    id: int
    subtopic: str
    wordings: tuple[tuple[str, str], ...]  # (front, back)


def subtopics(regions: int) -> list[tuple]:
    """The land's subtopics: each subject once, or once per region ("Cities of the North")."""
    if regions <= 1:
        return list(SUBJECTS)
    return [
        (f"{name} of the {region}", f"{scope}, in the {region.lower()}", *rest)
        for region in REGIONS[:regions]
        for name, scope, *rest in SUBJECTS
    ]


def build_universe(rng: random.Random, subjects: list[tuple], per_subtopic: int) -> list[Fact]:
    """Invented names (a fifth of them near-twins of another, like Austria and Australia)."""
    names: set[str] = set()

    def new_name() -> str:
        while True:
            name = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
            if name not in names:
                names.add(name)
                return name

    facts = []
    for subtopic, _scope, questions, answer, (low, high) in subjects:
        entities: list[str] = []
        while len(entities) < per_subtopic:
            name = new_name()
            entities.append(name)
            twin = name + rng.choice("aeiou")
            if rng.random() < 0.2 and twin not in names and len(entities) < per_subtopic:
                names.add(twin)
                entities.append(twin)
        for entity in entities:
            value = answer.format(v=rng.randint(low, high))
            wordings = tuple((q.format(e=entity), value) for q in questions)
            facts.append(Fact(len(facts), subtopic, wordings))
    return facts


@dataclass
class Log:
    card_prompt_chars: list[int] = field(default_factory=list)
    outline_requests: int = 0
    sent: list[int] = field(default_factory=list)  # fact ids, in the order they were written


class ForgetfulModel:
    def __init__(self, subjects: list[tuple], facts: list[Fact], forget: float, seed: int) -> None:
        self.subjects = subjects
        self.facts = facts
        self.forget = forget
        self.rng = random.Random(seed)
        self.by_front = {front: f.id for f in facts for front, _ in f.wordings}
        self.written: dict[int, set[int]] = {}  # fact id -> wordings used so far
        self.log = Log()
        self.closed = False  # the run has its cards: refuse more, so the app comes to rest

    def __call__(self, request: ReceivedRequest) -> Reply:
        if self.closed:
            return Reply(status=400, error_message="the bench has all the cards it needs")
        messages = request.json["messages"]
        system, user = messages[0]["content"], messages[-1]["content"]
        if is_outline_request(request.json):
            self.log.outline_requests += 1
            return Reply(text=self._outline(user))
        self.log.card_prompt_chars.append(len(system) + len(user))
        count = int(re.search(r"Write exactly (\d+) new cards", user).group(1))
        return Reply(text=self._cards(user, count))

    def _outline(self, user: str) -> str:
        listed = set(re.findall(r"^- ([^:\n]+):", user, re.MULTILINE))
        offered = [s for s in self.subjects[FIRST_OUTLINE:] if s[0] not in listed][:EXTENSION]
        if not listed:
            offered = self.subjects[:FIRST_OUTLINE]
        elif not offered:  # nothing left to add: a model out of ideas repeats itself
            offered = [s for s in self.subjects if s[0] in listed][:EXTENSION]
        body = "".join(
            f"<subtopic><name>{name}</name><scope>{scope}</scope></subtopic>\n"
            for name, scope, *_ in offered
        )
        return f"<outline>\n{body}</outline>"

    def _cards(self, user: str, count: int) -> str:
        target = re.search(r"one part of the topic: ([^:\n]+)", user)
        pool = [f for f in self.facts if target is None or f.subtopic == target.group(1).strip()]
        listed = {
            self.by_front[m]
            for m in re.findall(r"^- (.+?)$", user, re.MULTILINE)
            if m in self.by_front
        }
        cards = []
        in_reply: set[int] = set()  # a model does not write one fact twice in one list
        for _ in range(count):
            fact, wording = self._pick([f for f in pool if f.id not in in_reply], listed)
            in_reply.add(fact.id)
            self.written.setdefault(fact.id, set()).add(wording)
            self.log.sent.append(fact.id)
            cards.append(fact.wordings[wording])
        body = "".join(
            f"<card><front>{html.escape(f, False)}</front><back>{html.escape(b, False)}</back></card>\n"
            for f, b in cards
        )
        return f"<cards>\n{body}</cards>"

    def _pick(self, pool: list[Fact], listed: set[int]) -> tuple[Fact, int]:
        forgotten = [f for f in pool if f.id in self.written and f.id not in listed]
        fresh = [f for f in pool if f.id not in self.written]
        if forgotten and (not fresh or self.rng.random() < self.forget):
            fact = self.rng.choice(forgotten)
            unused = [w for w in range(len(fact.wordings)) if w not in self.written[fact.id]]
            return fact, self.rng.choice(unused or range(len(fact.wordings)))
        if fresh:
            # Without a subtopic the model roams the whole land, one subtopic after another.
            by_subtopic = {f.subtopic: f for f in reversed(fresh)}
            fact = min(
                by_subtopic.values(),
                key=lambda f: sum(1 for i in self.written if self.facts[i].subtopic == f.subtopic),
            )
            return fact, 0
        fact = self.rng.choice(pool or self.facts)  # all written and listed: it repeats anyway
        return fact, self.rng.randrange(len(fact.wordings))


# -- running a tree ----------------------------------------------------------------------------


def start_app(tree: Path, database_url: str, llm_url: str, workdir: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRS_")}
    env.update(
        PYTHONPATH=str(tree),
        SRS_DATABASE_URL=database_url,
        SRS_LLM_PROVIDER="openai",
        SRS_LLM_BASE_URL=llm_url,
        SRS_LLM_API_KEY="bench",
        SRS_LLM_MODEL="forgetful",
        SRS_PORT=str(port),
        SRS_PLAN_FREE_CARDS="100000",
        SRS_PLAN_FREE_TOPICS="10",
        SRS_REFILL_BELOW="100000",  # batch after batch with no learner studying
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "srs.cli", "--log-level", "warning", "serve"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"srs serve ({tree}) did not start")


def fetch_cards(client: httpx.Client, topic_id: int) -> list[dict]:
    """All of a topic's cards, whether the endpoint answers a list or pages of items."""
    cards: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/topics/{topic_id}/cards", params=params).json()
        if isinstance(page, list):
            return page
        cards += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return cards


def run_tree(label: str, tree: Path, args, subjects: list[tuple], facts: list[Fact]) -> dict:
    model = ForgetfulModel(subjects, facts, args.forget, args.seed)
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLMServer(responder=model) as llm:
        proc, base = start_app(tree, f"sqlite:///{tmp}/feed.db", llm.base_url, Path(tmp))
        started = time.monotonic()
        try:
            client = httpx.Client(base_url=base, timeout=30)
            token = client.post(
                "/api/v1/auth/signup",
                json={"email": "feed@example.com", "password": "correct horse battery"},
            ).json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            topic = client.post(
                "/api/v1/topics", json={"prompt": "The invented land of Veloria"}
            ).json()
            status, cards = _follow(client, topic["id"], model, args)
            rejections = fetch_duplicates(client, topic["id"])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = _report(label, facts, model, cards, status, time.monotonic() - started, tree)
    result["false_merges"] = false_merges(rejections, model.by_front)
    return result


def fetch_duplicates(client: httpx.Client, topic_id: int) -> list[dict] | None:
    """The topic's rejected duplicates with the card each matched (None: a tree without the
    endpoint, like the baseline)."""
    items: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/api/v1/topics/{topic_id}/duplicates", params=params)
        if response.status_code == 404:
            return None
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def false_merges(rejections: list[dict] | None, by_front: dict[str, int]) -> list[str] | None:
    """Each rejection whose card and matched card are different facts of the universe:
    "rejected front | back  ==  matched front | back"."""
    if rejections is None:
        return None
    return [
        f"{r['front']} | {r['back']}  ==  {r['matched']['front']} | {r['matched']['back']}"
        for r in rejections
        if r["matched"] and by_front.get(r["front"]) != by_front.get(r["matched"]["front"])
    ]


def _follow(client, topic_id, model, args):
    """Wait for the cards and batches wanted, then refuse further requests and let the batch
    in flight finish, so every fact the model sent has been saved or rejected."""
    deadline = time.monotonic() + args.timeout
    while not model.closed:
        time.sleep(1.0)
        enough = len(model.log.card_prompt_chars) > args.batches
        stopped = _generation(client, topic_id)["status"] in ("failed", "quota_exceeded")
        if stopped or (enough and len(fetch_cards(client, topic_id)) >= args.cards):
            model.closed = True
        if time.monotonic() > deadline:
            raise RuntimeError(f"not enough cards after {args.timeout} s")
    while (status := _generation(client, topic_id))["status"] in ("queued", "running"):
        time.sleep(0.5)
    return status, fetch_cards(client, topic_id)


def _generation(client, topic_id) -> dict:
    return client.get(f"/api/v1/topics/{topic_id}").json()["generation"]


def _report(label, facts, model, cards, status, seconds, tree) -> dict:
    by_front = model.by_front
    saved = [by_front.get(c["front"]) for c in cards]
    unknown = sum(1 for f in saved if f is None)
    saved_facts = {f for f in saved if f is not None}
    sizes = model.log.card_prompt_chars
    timings = dedup_times(tree, [(c["front"], c["back"]) for c in cards])
    return {
        "label": label,
        "saved": len(cards),
        "repeats": len(saved) - unknown - len(saved_facts),
        "wrongly_dropped": len(set(model.log.sent) - saved_facts),
        "repeat_examples": _repeat_examples(cards, by_front),
        "dropped_examples": [
            facts[i].wordings[0][0] for i in sorted(set(model.log.sent) - saved_facts)[:3]
        ],
        "sent": len(model.log.sent),
        "distinct_sent": len(set(model.log.sent)),
        "batches": len(sizes),
        "outline_requests": model.log.outline_requests,
        "prompt_2": sizes[1] if len(sizes) > 1 else None,
        "prompt_50": sizes[49] if len(sizes) > 49 else None,
        "prompt_max": max(sizes) if sizes else None,
        "dedup_ms": timings,
        "status": status,
        "seconds": round(seconds, 1),
    }


def _repeat_examples(cards: list[dict], by_front: dict[str, int]) -> list[list[str]]:
    """The saved fronts of the first few facts that reached the learner more than once."""
    fronts: dict[int, list[str]] = {}
    for card in cards:
        fronts.setdefault(by_front.get(card["front"], -1), []).append(card["front"])
    return [f for f in fronts.values() if len(f) > 1][:3]


# The dedup is timed by replaying the saved cards, in order, through the tree's own dedup in a
# subprocess (each tree has its own `srs`). Adapt this one snippet if the dedup's API changes.
DEDUP_REPLAY = """
import json, sys, time
from srs.generation import dedup
cards = json.load(sys.stdin)
times = []
if hasattr(dedup, "CardText"):  # the semantic check: the time includes embedding the card
    from srs.embeddings import build_embedder, single_blas_thread
    from srs.generation.service import embed_cards
    from srs.kit.settings import Settings
    embedder = build_embedder(Settings(_env_file=None, env="test", llm_provider=""))
    index = dedup.DedupIndex()
    for number, (front, back) in enumerate(cards):
        text = dedup.CardText(front, back)
        start = time.perf_counter()
        (vectors,) = embed_cards(embedder, [text])
        with single_blas_thread():
            index.duplicate_of(text, vectors)
        times.append(time.perf_counter() - start)
        index.add(number, text, vectors)
else:  # the signature check it replaced
    index = dedup.DedupIndex()
    for front, back in cards:
        start = time.perf_counter()
        index.duplicate_of(front)
        times.append(time.perf_counter() - start)
        index.add(front)
print(json.dumps(times))
"""


def dedup_times(tree: Path, cards: list[tuple[str, str]]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", DEDUP_REPLAY],
        input=json.dumps(cards),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    times = sorted(t * 1000 for t in json.loads(done.stdout))
    if not times:
        return {}
    return {
        "median": statistics.median(times),
        "p99": times[int(0.99 * (len(times) - 1))],
        "max": times[-1],
    }


def baseline_tree(ref: str, into: Path) -> Path:
    """The baseline commit's files (git archive: no worktree left behind)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def table(results: list[dict]) -> str:
    head = (
        "| code | saved cards | repeated facts reaching the learner | distinct facts wrongly "
        "dropped | card batches | outline requests | prompt, batch 2 | batch 50 | 50 / 2 | "
        "dedup per card, median | p99 |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for r in results:
        ratio = (
            f"{r['prompt_50'] / r['prompt_2']:.2f}x" if r["prompt_50"] and r["prompt_2"] else "n/a"
        )
        dedup = r["dedup_ms"]
        mean = f"{dedup['median']:.3f} ms" if "median" in dedup else dedup.get("error", "n/a")
        p99 = f"{dedup['p99']:.3f} ms" if "p99" in dedup else ""
        rows.append(
            f"| {r['label']} | {r['saved']} | {r['repeats']} ({r['repeats'] / max(1, r['saved']):.0%}) "
            f"| {r['wrongly_dropped']} of {r['distinct_sent']} | {r['batches']} | "
            f"{r['outline_requests']} | {r['prompt_2']} | {r['prompt_50']} | {ratio} | {mean} | {p99} |"
        )
    return "\n".join([head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cards", type=int, default=300, help="run until this many cards are saved"
    )
    parser.add_argument(
        "--batches", type=int, default=50, help="and this many card batches were asked"
    )
    parser.add_argument("--forget", type=float, default=0.4)
    parser.add_argument("--facts", type=int, default=20, help="facts per subtopic")
    parser.add_argument(
        "--regions",
        type=int,
        default=1,
        help="each subject once per region: more subtopics for the outline to grow into",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per tree at most")
    parser.add_argument("--baseline", default="564c66c", help="commit measured as today's code")
    parser.add_argument("--no-baseline", action="store_true", help="this checkout only")
    args = parser.parse_args()
    subjects = subtopics(args.regions)
    facts = build_universe(random.Random(args.seed), subjects, args.facts)
    print(
        f"machine: {machine()}; {len(facts)} facts in {len(subjects)} subtopics; "
        f"forget {args.forget}; seed {args.seed}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = (
            []
            if args.no_baseline
            else [("baseline " + args.baseline, baseline_tree(args.baseline, Path(tmp)))]
        )
        for label, tree in [*trees, ("this checkout", ROOT)]:
            result = run_tree(label, tree, args, subjects, facts)
            print(json.dumps(result), flush=True)
            for merge in result["false_merges"] or []:
                print(f"  false merge: {merge}", flush=True)
            results.append(result)
    print(table(results))


if __name__ == "__main__":
    main()
