"""Import of a large Anki deck: a 20,000-card .apkg with 200,000 reviews, built with the
official `anki` package and exported by it (collection.anki21b, zstd), uploaded to the real
app over HTTP and followed until the background job is done. The baseline, in the same run, is
Anki's own import of the same package into a fresh collection (with scheduling).

    .venv/bin/python bench/anki_import.py [--cards 20000] [--reviews 200000]
        [--database sqlite|postgres] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import machine

from srs.kit.migrate import upgrade
from tests.conftest import make_settings
from tests.support import databases
from tests.support.server import running_app

DAY_MS = 86_400_000


def build_package(folder: Path, cards: int, reviews: int, seed: int = 1) -> Path:
    from anki.collection import AddNoteRequest, Collection, ExportAnkiPackageOptions
    from anki.decks import DeckId

    rng = random.Random(seed)
    col = Collection(str(folder / "source.anki2"))
    basic = col.models.by_name("Basic")
    decks = [DeckId(col.decks.id(f"Big::Part {n}")) for n in range(4)]
    requests = []
    for number in range(cards):
        note = col.new_note(basic)
        note["Front"], note["Back"] = f"<b>Question {number}</b>", f"Answer {number}<br>more"
        requests.append(AddNoteRequest(note=note, deck_id=decks[number % len(decks)]))
    col.add_notes(requests)
    card_ids = sorted(col.find_cards(""))
    now_ms = int(time.time() * 1000)
    today = col.sched.today
    per_card = reviews // len(card_ids)
    revlog, updates = [], []
    for index, cid in enumerate(card_ids):
        moment = now_ms - rng.randint(400, 900) * DAY_MS
        interval = 1
        for step in range(per_card):
            ease = 3 if step < 2 else rng.choice([1, 2, 3, 3, 3, 4])
            moment += max(1, interval) * DAY_MS if step >= 2 else 600_000
            interval = 1 if ease == 1 else min(60, round(max(1, interval) * 1.8))
            revlog.append((moment + index, cid, ease, interval, 2500, 5000, 0 if step < 2 else 1))
        updates.append((today + rng.randint(-5, 60), interval, per_card, cid))
    col.close()
    # Straight into the collection's SQLite file: anki's own db proxy takes a backend round
    # trip per row (70 s for 20,000 rows).
    db = sqlite3.connect(folder / "source.anki2")
    db.executemany(
        "insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)"
        " values (?, ?, -1, ?, ?, 0, ?, ?, ?)",
        revlog,
    )
    db.executemany(
        "update cards set type = 2, queue = 2, due = ?, ivl = ?, reps = ? where id = ?", updates
    )
    db.commit()
    db.close()
    col = Collection(str(folder / "source.anki2"))
    path = folder / "big.apkg"
    col.export_anki_package(
        out_path=str(path),
        options=ExportAnkiPackageOptions(with_scheduling=True, with_media=True, legacy=False),
        limit=None,
    )
    col.close()
    return path


def anki_baseline(folder: Path, package: Path) -> float:
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    col = Collection(str(folder / "baseline.anki2"))
    started = time.perf_counter()
    col.import_anki_package(
        ImportAnkiPackageRequest(
            package_path=str(package), options=ImportAnkiPackageOptions(with_scheduling=True)
        )
    )
    elapsed = time.perf_counter() - started
    col.close()
    return elapsed


def srs_import(database_url: str, package: Path) -> tuple[float, float, dict]:
    """(seconds until the upload's 202, seconds until the job is done, the job)."""
    settings = make_settings(database_url, worker_enabled=False, ticker_enabled=False)
    with running_app(settings) as (base_url, _app):
        client = httpx.Client(base_url=base_url + "/api/v1", timeout=600)
        token = client.post(
            "/auth/signup", json={"email": "bench@example.com", "password": "bench password 1"}
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        client.cookies.clear()
        started, cpu = time.perf_counter(), time.process_time()
        response = client.post("/imports", files={"file": (package.name, package.read_bytes())})
        accepted = time.perf_counter() - started
        job = response.json()
        assert response.status_code == 202, response.text
        marks = {}
        while job["status"] in ("queued", "running"):
            time.sleep(0.2)
            job = client.get(f"/imports/{job['id']}").json()
            for name, threshold in (("read", 0.1), ("replayed", 0.85)):
                if job["progress"] >= threshold and name not in marks:
                    marks[name] = time.perf_counter() - started
        job["phases"] = marks
        job["cpu"] = time.process_time() - cpu
        return accepted, time.perf_counter() - started, job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--reviews", type=int, default=200_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="srs-bench-import-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        package = build_package(folder, args.cards, args.reviews)
        print(
            f"built {package.stat().st_size / 1e6:.1f} MB package in {time.perf_counter() - started:.1f} s"
        )
        baseline = anki_baseline(folder, package)
        if args.database == "sqlite":
            url = f"sqlite:///{folder / 'srs.db'}"
            upgrade(url)
        else:
            url = databases.create_postgres_database(args.postgres)
        try:
            accepted, done, job = srs_import(url, package)
        finally:
            if args.database == "postgres":
                databases.drop_postgres_database(url)
    print(f"machine: {machine()}")
    print(f"{args.cards} cards, {args.reviews} reviews, {args.database}")
    print(f"anki's own import (baseline): {baseline:.1f} s")
    print(
        f"srs: upload checked and accepted (202) in {accepted:.1f} s; job done after {done:.1f} s"
    )
    cpu = job.pop("cpu")
    print(
        f"CPU time of this process (app, job and client; not PostgreSQL's) during the "
        f"import: {cpu:.1f} s; load average before the run: {load_before}"
    )
    phases = job.pop("phases")
    read, replayed = phases.get("read", 0.0), phases.get("replayed", 0.0)
    print(
        f"phases (seconds after the upload began): collection read by {read:.1f}, history "
        f"replayed by {replayed:.1f}, written and done by {done:.1f}"
    )
    print(f"job: status={job['status']} counts={job['counts']} error={job['error']}")


if __name__ == "__main__":
    main()
