"""A topic's cards as a CSV file or an Anki package. Pure apart from the temp file genanki needs."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import genanki

from srs.study.service import card_state_name
from srs.topics.models import Card, Topic

CSV_COLUMNS = ("front", "back", "state", "due", "reps", "lapses", "level", "model")

# Anki ids are 64-bit, but genanki's docs suggest ids in [1 << 30, 1 << 31): a re-imported deck
# keeps its id, so importing the same topic twice updates one deck instead of adding another.
_ID_LOW, _ID_SPAN = 1 << 30, 1 << 30
_MODEL_ID = 1_607_392_319  # fixed: every export shares one note type, "srs basic"

_MODEL = genanki.Model(
    _MODEL_ID,
    "srs basic",
    fields=[{"name": "Front"}, {"name": "Back"}],
    templates=[
        {
            "name": "Card 1",
            "qfmt": "{{Front}}",
            "afmt": '{{FrontSide}}<hr id="answer">{{Back}}',
        }
    ],
    css=".card { font-family: sans-serif; font-size: 20px; text-align: center; }",
)


def deck_id(topic_id: int) -> int:
    """The same topic always gets the same Anki deck id."""
    digest = hashlib.sha256(f"srs-topic-{topic_id}".encode()).digest()
    return _ID_LOW + int.from_bytes(digest[:8], "big") % _ID_SPAN


def cards_csv(cards: Sequence[Card]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for card in cards:
        writer.writerow(
            [
                card.front,
                card.back,
                card_state_name(card),
                card.due.isoformat(),
                card.reps,
                card.lapses,
                "" if card.level is None else card.level,
                card.model or "",
            ]
        )
    return buffer.getvalue()


def _field(text: str) -> str:
    # Anki fields are HTML; our cards are plain text.
    return html.escape(text).replace("\n", "<br>")


def cards_apkg(topic: Topic, cards: Sequence[Card]) -> bytes:
    deck = genanki.Deck(deck_id(topic.id), topic.title)
    for card in cards:
        deck.add_note(
            genanki.Note(
                model=_MODEL,
                fields=[_field(card.front), _field(card.back)],
                guid=genanki.guid_for("srs-card", card.id),
                tags=["srs"] + (["flagged"] if card.flag_reason else []),
            )
        )
    with tempfile.TemporaryDirectory(prefix="srs-export-") as folder:
        path = Path(folder) / "deck.apkg"
        genanki.Package(deck).write_to_file(str(path))
        return path.read_bytes()


def filename(topic: Topic, extension: str) -> str:
    """An ASCII file name from the title ("Capitals of Europe" -> capitals-of-europe.csv)."""
    ascii_title = unicodedata.normalize("NFKD", topic.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    return f"{slug or f'topic-{topic.id}'}.{extension}"
