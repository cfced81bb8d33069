"""A topic's cards as a CSV file or an Anki package, each with the cards' scheduling.
Pure apart from the temp file the package is built in."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import genanki

from srs.accounts.models import User
from srs.exports.anki_package import CardSchedule, Collection, LoggedReview, PackageNote, build_apkg
from srs.kit.text import strip_control_characters
from srs.study import service as study
from srs.study.models import ReviewLog
from srs.study.service import card_state_name
from srs.topics.models import Card, Topic

# Anki's header lines make its CSV import read the file as written: comma-separated, plain
# text (so `<vector>` stays text), into Basic notes in the topic's deck, with no header row.
CSV_COLUMNS = (
    "Front",
    "Back",
    "State",
    "Due",
    "Stability",
    "Difficulty",
    "Last review",
    "Reps",
    "Lapses",
    "Level",
    "Model",
)
# OWASP's advice against CSV injection: a cell a spreadsheet would read as a formula gets a
# leading apostrophe, which spreadsheets show as text. The apostrophe stays in the field.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

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
_CLOZE_MODEL_ID = 1_607_392_320  # fixed: every export's cloze notes share "srs cloze"
# Anki's own Cloze note type shape: a Text field with {{cN::...}}, one card per number.
_CLOZE_MODEL = genanki.Model(
    _CLOZE_MODEL_ID,
    "srs cloze",
    model_type=genanki.Model.CLOZE,
    fields=[{"name": "Text"}, {"name": "Back Extra"}],
    templates=[
        {
            "name": "Cloze",
            "qfmt": "{{cloze:Text}}",
            "afmt": "{{cloze:Text}}<br>{{Back Extra}}",
        }
    ],
    css=".card { font-family: sans-serif; font-size: 20px; text-align: center; }\n"
    ".cloze { font-weight: bold; color: #1d4ed8; }",
)


def deck_id(topic_id: int) -> int:
    """The same topic always gets the same Anki deck id."""
    digest = hashlib.sha256(f"srs-topic-{topic_id}".encode()).digest()
    return _ID_LOW + int.from_bytes(digest[:8], "big") % _ID_SPAN


def neutralise_formula(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _csv_text(text: str) -> str:
    return neutralise_formula(strip_control_characters(text))


def _header_value(text: str) -> str:
    return " ".join(strip_control_characters(text).split())


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def cards_csv(topic: Topic, cards: Sequence[Card]) -> str:
    buffer = io.StringIO()
    buffer.write("#separator:Comma\r\n#html:false\r\n#notetype:Basic\r\n")
    buffer.write(f"#deck:{_header_value(topic.title)}\r\n")
    buffer.write(f"#columns:{','.join(CSV_COLUMNS)}\r\n")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    for card in cards:
        writer.writerow(
            [
                _csv_text(card.front),
                _csv_text(card.back),
                card_state_name(card),
                card.due.isoformat(),
                "" if card.stability is None else round(card.stability, 4),
                "" if card.difficulty is None else round(card.difficulty, 4),
                _iso(card.last_review),
                card.reps,
                card.lapses,
                "" if card.level is None else card.level,
                _csv_text(card.model or ""),
            ]
        )
    return buffer.getvalue()


def anki_field(text: str) -> str:
    """Plain card text as an Anki field: HTML-escaped, line breaks as <br>, no control
    characters, and no Anki media syntax (`[sound:x]` would become an audio button)."""
    escaped = html.escape(strip_control_characters(text)).replace("[", "&#91;")
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def _schedule(values: dict, *, suspended: bool = False, buried: bool = False) -> CardSchedule:
    return CardSchedule(
        state=values["state"],
        step=values["step"],
        stability=values["stability"],
        difficulty=values["difficulty"],
        due=values["due"],
        last_review=values["last_review"],
        reps=values["reps"],
        lapses=values["lapses"],
        suspended=suspended,
        buried=buried,
    )


def _package_note(card: Card, logs: Sequence[ReviewLog], now: datetime) -> PackageNote:
    current = {name: getattr(card, name) for name in study.SNAPSHOT_FIELDS}
    buried = card.buried_until is not None and card.buried_until > now
    if card.cloze_text is not None:
        # One Anki note for the note's cards: its guid (an imported note keeps Anki's own).
        guid = card.note_guid or genanki.guid_for("srs-card", card.id)
        fields, ord_ = (anki_field(card.cloze_text), ""), (card.cloze_ordinal or 1) - 1
    else:
        guid = genanki.guid_for("srs-card", card.id)
        fields, ord_ = (anki_field(card.front), anki_field(card.back)), 0
    return PackageNote(
        guid=guid,
        ord=ord_,
        front=fields[0],
        back=fields[1],
        tags=("srs", "flagged") if card.flag_reason else ("srs",),
        schedule=_schedule(current, suspended=card.suspended, buried=buried),
        reviews=tuple(
            LoggedReview(
                rating=log.rating,
                reviewed_at=log.reviewed_at,
                duration_ms=log.duration_ms,
                before=_schedule(study.parse_snapshot(log.card_before)),
            )
            for log in logs
        ),
    )


def cards_apkg(
    topic: Topic, cards: Sequence[Card], logs: Sequence[ReviewLog], user: User, now: datetime
) -> bytes:
    by_card: dict[int, list[ReviewLog]] = defaultdict(list)
    for log in logs:
        by_card[log.card_id].append(log)
    notes = [_package_note(card, by_card[card.id], now) for card in cards]
    deck = genanki.Deck(deck_id(topic.id), _header_value(topic.title))
    cloze_guids = {n.guid for n, c in zip(notes, cards, strict=True) if c.cloze_text is not None}
    added: set[str] = set()
    for note in notes:
        if note.guid in added:
            continue  # a cloze note's next card: the note is in already
        added.add(note.guid)
        model = _CLOZE_MODEL if note.guid in cloze_guids else _MODEL
        deck.add_note(
            genanki.Note(
                model=model, fields=[note.front, note.back], guid=note.guid, tags=list(note.tags)
            )
        )
    collection = Collection(user.timezone, user.desired_retention, now)
    return build_apkg(deck, collection, notes)


def filename(topic: Topic, extension: str) -> str:
    """An ASCII file name from the title ("Capitals of Europe" -> capitals-of-europe.csv)."""
    ascii_title = unicodedata.normalize("NFKD", topic.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    return f"{slug or f'topic-{topic.id}'}.{extension}"
