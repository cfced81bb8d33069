"""Anki-style CSV and TSV: optional `#key:value` header lines (separator, html, deck, columns),
then one note per row. Our own export's scheduling columns, when present, restore each card's
memory state. Pure."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from srs.imports.archive import refused
from srs.imports.convert import ImportedCard, html_to_text
from srs.kit.text import strip_control_characters
from srs.study.scheduling import MemoryState, State

SEPARATORS = {
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "space": " ",
    "pipe": "|",
    "colon": ":",
}
_STATES = {"learning": State.LEARNING, "review": State.REVIEW, "relearning": State.RELEARNING}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Header:
    separator: str | None = None
    html: bool = False  # plain text unless the file says otherwise (Anki writes #html:true)
    deck: str | None = None
    columns: str | None = None
    # Anki's "#guid column:1", "#deck column:3"...: 0-based positions that are not fields
    special: dict[str, int] = field(default_factory=dict)


def _read_header(lines: list[str]) -> tuple[Header, int]:
    header = Header()
    used = 0
    for line in lines:
        if not line.startswith("#") or ":" not in line:
            break
        key, _, value = line[1:].partition(":")
        key, value = key.strip().lower(), value.rstrip("\r\n")
        if key == "separator":
            header.separator = SEPARATORS.get(value.strip().lower(), value[:1] or None)
        elif key == "html":
            header.html = value.strip().lower() == "true"
        elif key == "deck":
            header.deck = value.strip() or None
        elif key == "columns":
            header.columns = value  # split once the separator is known
        elif key.endswith(" column") and value.strip().isdigit():
            header.special[key.removesuffix(" column")] = int(value.strip()) - 1
        used += 1
    return header, used


def _guess_separator(first_row: str, filename: str) -> str:
    if filename.lower().endswith(".tsv") or "\t" in first_row:
        return "\t"
    counts = {sep: first_row.count(sep) for sep in (",", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _unneutralise(cell: str) -> str:
    """Our CSV export protects formula-like cells with a leading apostrophe; take it off."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS):
        return cell[1:]
    return cell


def _memory(row: dict[str, str]) -> tuple[MemoryState, int, int]:
    state = _STATES.get(row.get("state", "").strip().lower())
    try:
        if state is None or not row.get("stability") or not row.get("last review"):
            return MemoryState(), 0, 0
        memory = MemoryState(
            state=state,
            step=None if state == State.REVIEW else 0,
            stability=float(row["stability"]),
            difficulty=float(row["difficulty"]),
            due=datetime.fromisoformat(row["due"]),
            last_review=datetime.fromisoformat(row["last review"]),
        )
        return memory, int(row.get("reps") or 0), int(row.get("lapses") or 0)
    except (KeyError, ValueError):
        return MemoryState(), 0, 0


def read_delimited(raw: bytes, filename: str) -> tuple[list[ImportedCard], Counter]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise refused("The CSV file is not UTF-8 text") from error
    if "\x00" in text:
        raise refused("The file holds NUL bytes: not a CSV or TSV text file")
    lines = text.splitlines(keepends=True)
    header, used = _read_header(lines)
    body = "".join(lines[used:])
    first_row = next((line for line in lines[used:] if line.strip()), "")
    separator = header.separator or _guess_separator(first_row, filename)
    columns = None
    if header.columns:
        columns = [
            c.strip().lower() for c in next(csv.reader([header.columns], delimiter=separator))
        ]
    rows = list(csv.reader(io.StringIO(body), delimiter=separator))
    if columns is None and rows and [c.strip().lower() for c in rows[0][:2]] == ["front", "back"]:
        columns = [c.strip().lower() for c in rows.pop(0)]  # a plain header row, as in old exports
    return _cards(rows, columns, header, filename)


def _cards(
    rows: list[list[str]], columns: list[str] | None, header: Header, filename: str
) -> tuple[list[ImportedCard], Counter]:
    counts: Counter = Counter()
    fields = [
        i
        for i in range(max(len(r) for r in rows) if rows else 0)
        if i not in header.special.values()
    ]
    front_at = (
        columns.index("front") if columns and "front" in columns else fields[0] if fields else 0
    )
    back_at = (
        columns.index("back")
        if columns and "back" in columns
        else fields[1]
        if len(fields) > 1
        else 1
    )
    default_deck = header.deck or filename.rsplit(".", 1)[0] or "Imported"
    deck_at = header.special.get("deck")
    cards = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(front_at, back_at):
            counts["skipped_short_rows"] += 1
            continue
        raw_front, raw_back = (_unneutralise(row[front_at]), _unneutralise(row[back_at]))
        if header.html:
            front, back = html_to_text(raw_front), html_to_text(raw_back)
        else:
            front = strip_control_characters(raw_front).strip()
            back = strip_control_characters(raw_back).strip()
        if not front or not back:
            counts["skipped_empty"] += 1
            continue
        named = dict(zip(columns, row, strict=False)) if columns else {}
        memory, reps, lapses = _memory(named)
        counts["reviews_restored"] += not memory.is_new
        deck = row[deck_at].strip() if deck_at is not None and deck_at < len(row) else ""
        cards.append(ImportedCard(deck or default_deck, front, back, memory, reps, lapses, False))
    counts["cards"] = len(cards)
    counts["notes"] = len(cards)
    return cards, counts
