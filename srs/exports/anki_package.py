"""An Anki package (.apkg) that carries each card's scheduling and its review log, so Anki
carries on where the service left off. Pure apart from the temporary SQLite file.

genanki writes the legacy collection (schema 11, which every Anki since 2.1 imports); we then
fill in what genanki leaves as "new": each card's type, queue, due, interval, reps, lapses,
remaining learning steps, the FSRS memory state Anki keeps in the card's `data` JSON, and the
`revlog` table. Checked against the official `anki` package in tests/exports.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import genanki

from srs.study.clock import anki_day_start
from srs.study.scheduling import LEARNING_STEPS, RELEARNING_STEPS, State, utc

DAY = 86_400
# Anki's card types and queues (rslib/src/card/mod.rs).
TYPE_NEW, TYPE_LEARN, TYPE_REVIEW, TYPE_RELEARN = 0, 1, 2, 3
QUEUE_SUSPENDED, QUEUE_BURIED = -1, -3
QUEUE_NEW, QUEUE_LEARN, QUEUE_REVIEW = 0, 1, 2
# Anki's review log kinds.
REVLOG_LEARN, REVLOG_REVIEW, REVLOG_RELEARN = 0, 1, 2
DEFAULT_EASE = 2500


@dataclass(frozen=True)
class CardSchedule:
    """What the service knows of one card's scheduling, in plain values."""

    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None
    reps: int
    lapses: int
    suspended: bool = False
    buried: bool = False


@dataclass(frozen=True)
class PackageNote:
    """One card of the package, with its note's guid and fields; the cards of a cloze note
    share a guid and differ by `ord` (Anki's card number: deletion cN has ord N - 1)."""

    guid: str
    front: str  # already Anki field HTML (a cloze note: its Text field)
    back: str  # (a cloze note: its Back Extra field)
    tags: tuple[str, ...]
    schedule: CardSchedule
    reviews: tuple[LoggedReview, ...] = ()
    ord: int = 0


@dataclass(frozen=True)
class LoggedReview:
    rating: int
    reviewed_at: datetime
    duration_ms: int | None
    before: CardSchedule


@dataclass(frozen=True)
class Collection:
    """The learner's day boundaries: Anki counts review due dates in days since `crt`."""

    time_zone: str
    desired_retention: float
    now: datetime

    def epoch(self, schedules: Sequence[CardSchedule]) -> datetime:
        """A day start (4 am local) before every date we write, so no day number is negative.

        The package's collection has no scheduler version, so Anki counts its days as whole
        24-hour periods from `crt`: a `crt` at the learner's 4 am gives their own days."""
        earliest = min([self.now, *(s.due for s in schedules)], key=utc)
        return anki_day_start(utc(earliest) - timedelta(days=1), self.time_zone)

    def day_number(self, epoch: datetime, moment: datetime) -> int:
        start = anki_day_start(moment, self.time_zone)
        return round((start - epoch).total_seconds() / DAY)


def _interval_days(collection: Collection, schedule: CardSchedule) -> int:
    """Whole days from the last review to the due date, as Anki's `ivl` counts them."""
    if schedule.last_review is None:
        return 0
    last = anki_day_start(schedule.last_review, collection.time_zone)
    due = anki_day_start(schedule.due, collection.time_zone)
    return max(1, round((due - last).total_seconds() / DAY))


def _remaining_steps(schedule: CardSchedule) -> int:
    steps = LEARNING_STEPS if schedule.state == State.LEARNING else RELEARNING_STEPS
    remaining = max(0, len(steps) - (schedule.step or 0))
    return remaining * 1000 + remaining  # Anki's `left`: today's and all remaining steps


def card_columns(
    collection: Collection, epoch: datetime, schedule: CardSchedule, position: int
) -> dict[str, int | str]:
    """Anki's cards-table columns for one card."""
    if schedule.last_review is None:
        columns = {
            "type": TYPE_NEW,
            "queue": QUEUE_NEW,
            "due": position,
            "ivl": 0,
            "left": 0,
            "factor": 0,
        }
    elif schedule.state == State.REVIEW:
        columns = {
            "type": TYPE_REVIEW,
            "queue": QUEUE_REVIEW,
            "due": collection.day_number(epoch, schedule.due),
            "ivl": _interval_days(collection, schedule),
            "left": 0,
            "factor": DEFAULT_EASE,
        }
    else:
        relearning = schedule.state == State.RELEARNING
        columns = {
            "type": TYPE_RELEARN if relearning else TYPE_LEARN,
            "queue": QUEUE_LEARN,
            "due": int(utc(schedule.due).timestamp()),
            "ivl": max(1, round(schedule.stability or 1)) if relearning else 0,
            "left": _remaining_steps(schedule),
            "factor": DEFAULT_EASE if relearning else 0,
        }
    if schedule.suspended:
        columns["queue"] = QUEUE_SUSPENDED
    elif schedule.buried:
        columns["queue"] = QUEUE_BURIED
    columns.update(
        reps=schedule.reps, lapses=schedule.lapses, data=_memory_json(collection, schedule)
    )
    return columns


def _memory_json(collection: Collection, schedule: CardSchedule) -> str:
    if schedule.stability is None or schedule.difficulty is None:
        return ""
    data: dict[str, float | int] = {
        "s": round(schedule.stability, 4),
        "d": round(schedule.difficulty, 3),
        "dr": round(collection.desired_retention, 2),
    }
    if schedule.last_review is not None:
        data["lrt"] = int(utc(schedule.last_review).timestamp())
    return json.dumps(data)


def _signed_interval(collection: Collection, schedule: CardSchedule, at: datetime) -> int:
    """Anki's revlog interval: days when the card is in review, negative seconds otherwise."""
    if schedule.last_review is None:
        return 0
    if schedule.state == State.REVIEW:
        return _interval_days(collection, schedule)
    return -max(1, round((utc(schedule.due) - utc(at)).total_seconds()))


def revlog_rows(
    collection: Collection, anki_card_id: int, note: PackageNote
) -> list[tuple[int, ...]]:
    """(time ms, card id, ease, ivl, lastIvl, factor, taken ms, kind) per answer, oldest first."""
    rows = []
    reviews = sorted(note.reviews, key=lambda r: utc(r.reviewed_at))
    afters = [r.before for r in reviews[1:]] + [note.schedule] if reviews else []
    for review, after in zip(reviews, afters, strict=True):
        before = review.before
        kind = REVLOG_LEARN
        if before.last_review is not None and before.state == State.REVIEW:
            kind = REVLOG_REVIEW
        elif before.last_review is not None and before.state == State.RELEARNING:
            kind = REVLOG_RELEARN
        rows.append(
            (
                int(utc(review.reviewed_at).timestamp() * 1000),
                anki_card_id,
                review.rating,
                _signed_interval(collection, after, review.reviewed_at),
                _signed_interval(collection, before, review.reviewed_at),
                DEFAULT_EASE if kind != REVLOG_LEARN else 0,
                min(review.duration_ms or 0, 60_000),
                kind,
            )
        )
    return rows


def _write_schedules(
    cursor: sqlite3.Cursor, collection: Collection, notes: Sequence[PackageNote]
) -> None:
    epoch = collection.epoch([n.schedule for n in notes])
    cursor.execute("UPDATE col SET crt = ?", (int(epoch.timestamp()),))
    ids = {
        (guid, ord_): card_id
        for guid, ord_, card_id in cursor.execute(
            "SELECT n.guid, c.ord, c.id FROM cards c JOIN notes n ON n.id = c.nid"
        )
    }
    used_times: set[int] = set()
    for position, note in enumerate(notes, start=1):
        card_id = ids[(note.guid, note.ord)]
        columns = card_columns(collection, epoch, note.schedule, position)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        cursor.execute(f"UPDATE cards SET {assignments} WHERE id = ?", (*columns.values(), card_id))
        for row in revlog_rows(collection, card_id, note):
            stamp = row[0]
            while stamp in used_times:  # revlog ids are unique milliseconds
                stamp += 1
            used_times.add(stamp)
            cursor.execute(
                "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
                "VALUES (?, ?, -1, ?, ?, ?, ?, ?, ?)",
                (stamp, *row[1:]),
            )


def build_apkg(deck: genanki.Deck, collection: Collection, notes: Sequence[PackageNote]) -> bytes:
    """`deck` already holds the genanki note of every entry of `notes`, with the same guids
    (one note for all the cards of a cloze note)."""
    package = genanki.Package(deck)
    with tempfile.TemporaryDirectory(prefix="srs-export-") as folder:
        database = Path(folder) / "collection.anki2"
        connection = sqlite3.connect(database)
        try:
            cursor = connection.cursor()
            timestamp = utc(collection.now).timestamp()
            package.write_to_db(cursor, timestamp, itertools.count(int(timestamp * 1000)))
            _write_schedules(cursor, collection, notes)
            connection.commit()
        finally:
            connection.close()
        target = Path(folder) / "deck.apkg"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(database, "collection.anki2")
            archive.writestr("media", "{}")
        return target.read_bytes()
