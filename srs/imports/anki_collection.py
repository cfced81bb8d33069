"""Reading an Anki collection (SQLite) into plain records: decks, note types, notes, cards and
the review log. Handles the legacy schema 11 (`collection.anki2`/`anki21`, note types and decks
as JSON in `col`) and the newer schema 18 (`collection.anki21b`, their own tables with
protobuf configs, read with a few lines of protobuf wire format below).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from srs.imports.archive import connect_readonly

FIELD_SEPARATOR = "\x1f"
DECK_SEPARATOR = "\x1f"  # schema 18 keeps "A::B" as "A\x1fB"
_FIELD_REFERENCE = re.compile(r"\{\{([^#/^}][^}]*)\}\}")
_SPECIAL_FIELDS = {"FrontSide", "Tags", "Deck", "Subdeck", "Card", "Type", "CardFlag"}


@dataclass(frozen=True)
class NoteType:
    name: str
    cloze: bool
    fields: tuple[str, ...]
    # (front field index, back field index) for each card template, by template ordinal
    sides: dict[int, tuple[int, int] | None]


@dataclass(frozen=True)
class RevlogEntry:
    at: datetime
    ease: int  # 0 for entries that are not answers (reset, rescheduled)
    interval: int  # days if positive, seconds if negative
    kind: int  # 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual, 5 rescheduled
    factor: int
    taken_ms: int


@dataclass
class AnkiCard:
    id: int
    note_id: int
    deck_id: int
    ordinal: int
    type: int
    queue: int
    due: int
    interval: int
    reps: int
    lapses: int
    data: str
    reviews: list[RevlogEntry] = field(default_factory=list)


@dataclass(frozen=True)
class AnkiNote:
    id: int
    guid: str
    notetype_id: int
    fields: tuple[str, ...]
    tags: str


@dataclass(frozen=True)
class DayClock:
    """How the collection numbers its days: review due dates are day numbers."""

    created: datetime  # the collection's `crt`
    rollover_hour: int
    offset: timezone  # the learner's UTC offset when known, else UTC

    def day_start(self, day_number: int) -> datetime:
        local = self.created.astimezone(self.offset)
        first = local.replace(hour=self.rollover_hour, minute=0, second=0, microsecond=0)
        if first > local:
            first -= timedelta(days=1)
        return (first + timedelta(days=day_number)).astimezone(UTC)


@dataclass
class AnkiCollectionData:
    clock: DayClock
    decks: dict[int, str]
    note_types: dict[int, NoteType]
    notes: dict[int, AnkiNote]
    cards: list[AnkiCard]
    review_count: int


# -- protobuf wire format: just enough for note type kinds and template formats -------------


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _protobuf_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire == 2:
            length, position = _varint(data, position)
            yield number, data[position : position + length]
            position += length
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _protobuf_dict(data: bytes) -> dict[int, int | bytes]:
    return dict(_protobuf_fields(data or b""))


# -- note types ---------------------------------------------------------------------------------


def _referenced_fields(template: str, fields: tuple[str, ...]) -> list[int]:
    found = []
    for match in _FIELD_REFERENCE.finditer(template):
        name = match.group(1).split(":")[-1].strip()
        if name not in _SPECIAL_FIELDS and name in fields:
            found.append(fields.index(name))
    return found


def card_sides(question: str, answer: str, fields: tuple[str, ...]) -> tuple[int, int] | None:
    """The field a card asks and the field it answers with, read from its templates:
    "{{Front}}" / "{{FrontSide}}<hr>{{Back}}" gives (0, 1), the reversed card (1, 0)."""
    asked = _referenced_fields(question, fields)
    answered = [i for i in _referenced_fields(answer, fields) if i not in asked]
    if not asked or not answered:
        return None
    return asked[0], answered[0]


def _legacy_note_types(models_json: str) -> dict[int, NoteType]:
    result = {}
    for key, model in json.loads(models_json or "{}").items():
        fields = tuple(f["name"] for f in model.get("flds", []))
        sides = {
            int(t.get("ord", i)): card_sides(t.get("qfmt", ""), t.get("afmt", ""), fields)
            for i, t in enumerate(model.get("tmpls", []))
        }
        result[int(key)] = NoteType(model.get("name", ""), model.get("type") == 1, fields, sides)
    return result


def _schema18_note_types(db: sqlite3.Connection) -> dict[int, NoteType]:
    fields: dict[int, list[tuple[int, str]]] = {}
    for ntid, ordinal, name in db.execute("SELECT ntid, ord, name FROM fields"):
        fields.setdefault(ntid, []).append((ordinal, name))
    templates: dict[int, list[tuple[int, bytes]]] = {}
    for ntid, ordinal, config in db.execute("SELECT ntid, ord, config FROM templates"):
        templates.setdefault(ntid, []).append((ordinal, config))
    result = {}
    for ntid, name, config in db.execute("SELECT id, name, config FROM notetypes"):
        names = tuple(n for _, n in sorted(fields.get(ntid, [])))
        sides = {}
        for ordinal, template_config in templates.get(ntid, []):
            parsed = _protobuf_dict(template_config)
            question = bytes(parsed.get(1, b"")).decode("utf-8", "replace")
            answer = bytes(parsed.get(2, b"")).decode("utf-8", "replace")
            sides[ordinal] = card_sides(question, answer, names)
        cloze = _protobuf_dict(config).get(1) == 1
        result[ntid] = NoteType(name, cloze, names, sides)
    return result


# -- decks and the day clock -------------------------------------------------------------------


def _legacy_decks(decks_json: str) -> dict[int, str]:
    return {int(k): d.get("name", "") for k, d in json.loads(decks_json or "{}").items()}


def _schema18_decks(db: sqlite3.Connection) -> dict[int, str]:
    return {
        did: name.replace(DECK_SEPARATOR, "::")
        for did, name in db.execute("SELECT id, name FROM decks")
    }


def _config(db: sqlite3.Connection, legacy_conf: str, tables: set[str]) -> dict:
    if "config" not in tables:
        return json.loads(legacy_conf or "{}")
    values = {}
    for key, value in db.execute("SELECT KEY, val FROM config"):
        try:
            values[key] = json.loads(value)
        except (TypeError, ValueError):
            continue
    return values


def _clock(crt: int, config: dict) -> DayClock:
    minutes_west = config.get("creationOffset", config.get("localOffset", 0)) or 0
    rollover = config.get("rollover", 4)
    return DayClock(
        created=datetime.fromtimestamp(crt, UTC),
        rollover_hour=int(rollover) % 24 if isinstance(rollover, int) else 4,
        offset=timezone(timedelta(minutes=-int(minutes_west))),
    )


# -- the whole collection ------------------------------------------------------------------------


def read_collection(path: Path) -> AnkiCollectionData:
    db = connect_readonly(path)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        crt, conf, models, decks = db.execute("SELECT crt, conf, models, decks FROM col").fetchone()
        schema18 = "notetypes" in tables
        note_types = _schema18_note_types(db) if schema18 else _legacy_note_types(models)
        deck_names = _schema18_decks(db) if schema18 else _legacy_decks(decks)
        notes = {
            nid: AnkiNote(nid, guid, mid, tuple(flds.split(FIELD_SEPARATOR)), tags)
            for nid, guid, mid, flds, tags in db.execute(
                "SELECT id, guid, mid, flds, tags FROM notes"
            )
        }
        cards = {
            row[0]: AnkiCard(*row)
            for row in db.execute(
                "SELECT id, nid, CASE WHEN odid != 0 THEN odid ELSE did END, ord, type, queue,"
                " CASE WHEN odid != 0 AND odue != 0 THEN odue ELSE due END, ivl, reps, lapses,"
                " data FROM cards ORDER BY id"
            )
        }
        reviews = 0
        for rid, cid, ease, ivl, factor, taken, kind in db.execute(
            "SELECT id, cid, ease, ivl, factor, time, type FROM revlog ORDER BY id"
        ):
            card = cards.get(cid)
            if card is not None:
                at = datetime.fromtimestamp(rid / 1000, UTC)
                card.reviews.append(RevlogEntry(at, ease, ivl, kind, factor, taken))
                reviews += 1
        return AnkiCollectionData(
            clock=_clock(crt, _config(db, conf, tables)),
            decks=deck_names,
            note_types=note_types,
            notes=notes,
            cards=list(cards.values()),
            review_count=reviews,
        )
    finally:
        db.close()
