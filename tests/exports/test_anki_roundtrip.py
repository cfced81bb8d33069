"""Our exports read by the official `anki` package: the scheduling and history arrive, and the
CSV imports with Anki's own auto-detection."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime, timedelta

import pytest

from srs.exports.service import neutralise_formula
from tests.support.anki import anki_collection, anki_due, import_apkg, study_history

CARDS = [
    ("Capital of France?", "Paris"),
    ('What does "a, b" mean?', "Two letters,\nseparated by a comma"),
    ("Is 1 < 2 & 3 > 2?", "Yes"),
    ("What is <vector>?", "A C++ header"),
    ("Play [sound:bell.mp3]", "no audio here"),
    ("=cmd|' /C calc'!A0", "+1 and -1 and @SUM(A1)"),
    ("# not a comment", "first row"),
    ("Capital of Peru?", "Lima"),
]


def _topic(api, prompt="Anki round trip") -> dict:
    topic = api.post("/topics", json={"prompt": prompt}).json()
    for front, back in CARDS:
        created = api.post(f"/topics/{topic['id']}/cards", json={"front": front, "back": back})
        assert created.status_code == 201, created.text
    return topic


def _csv_rows(text: str) -> list[list[str]]:
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    return list(csv.reader(io.StringIO(body)))


def test_apkg_export_carries_scheduling_and_history_into_anki(api, settings, tmp_path):
    topic = _topic(api)
    study_history(settings.database_url, "ada@example.com")
    rows = {r[0]: r for r in _csv_rows(api.get(f"/topics/{topic['id']}/export.csv").text)}
    package = tmp_path / "topic.apkg"
    package.write_bytes(api.get(f"/topics/{topic['id']}/export.apkg").content)

    col = anki_collection(tmp_path)
    import_apkg(col, package)
    now = datetime.now(UTC)
    seen = 0
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        front = card.note().fields[0]
        ours = rows[neutralise_formula(html.unescape(front.replace("<br>", "\n")))]
        state, due, stability, difficulty = ours[2], ours[3], ours[4], ours[5]
        assert card.type == {"new": 0, "learning": 1, "review": 2, "relearning": 3}[state]
        assert (card.reps, card.lapses) == (int(ours[7]), int(ours[8]))
        assert len(col.db.list("select id from revlog where cid = ?", card_id)) == card.reps
        if state == "new":
            assert card.memory_state is None
            continue
        seen += 1
        assert card.memory_state.stability == pytest.approx(float(stability), rel=1e-3)
        assert card.memory_state.difficulty == pytest.approx(float(difficulty), rel=1e-3)
        our_due = datetime.fromisoformat(due)
        tolerance = timedelta(days=1) if state == "review" else timedelta(minutes=1)
        assert abs(anki_due(col, card, now) - our_due) <= tolerance, (front, state)
    assert seen == len(CARDS) - 1
    col.close()


def test_anki_media_syntax_and_control_characters_never_reach_anki(api, tmp_path):
    topic = _topic(api)
    package = tmp_path / "topic.apkg"
    package.write_bytes(api.get(f"/topics/{topic['id']}/export.apkg").content)
    col = anki_collection(tmp_path)
    import_apkg(col, package)
    notes = [col.get_note(nid) for nid in col.find_notes("")]
    assert len(notes) == len(CARDS)
    card = col.get_card(col.find_cards("Play")[0])
    assert card.question_av_tags() == []  # "[sound:bell.mp3]" stays text, not an audio button
    col.close()


def test_csv_imports_exactly_with_ankis_own_detection(api, tmp_path):
    from anki.collection import ImportCsvRequest

    topic = _topic(api, prompt="CSV round trip")
    path = tmp_path / "topic.csv"
    path.write_bytes(api.get(f"/topics/{topic['id']}/export.csv").content)
    col = anki_collection(tmp_path)
    metadata = col.get_csv_metadata(str(path), None)
    col.import_csv(ImportCsvRequest(path=str(path), metadata=metadata))
    notes = [col.get_note(nid) for nid in col.find_notes("")]
    # Anki keeps fields as HTML: with `#html:false` the text is escaped, so it shows as written.
    fields = sorted(tuple(html.unescape(f.replace("<br>", "\n")) for f in n.fields) for n in notes)
    neutralised = [
        ("'=cmd|' /C calc'!A0", "'+1 and -1 and @SUM(A1)")
        if front.startswith("=")
        else (front, back)
        for front, back in CARDS
    ]
    assert fields == sorted(neutralised)  # no header-row note, `#` row kept, <vector> intact
    assert col.decks.name(col.get_card(col.find_cards("")[0]).did) == "CSV round trip"
    col.close()


def test_csv_cells_never_start_a_spreadsheet_formula(api):
    """What a spreadsheet would evaluate: a cell whose first character is =, +, -, @, tab or
    CR. Read with Python's csv module (the same parsing spreadsheets apply to quoted CSV);
    no spreadsheet program runs here."""
    topic = _topic(api, prompt="Formula check")
    api.post(f"/topics/{topic['id']}/cards", json={"front": "-5 + 3?", "back": "@user"})
    rows = _csv_rows(api.get(f"/topics/{topic['id']}/export.csv").text)
    cells = [cell for row in rows for cell in row[:2]]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'-5 + 3?" in cells and "'@user" in cells and "'=cmd|' /C calc'!A0" in cells


def test_old_cards_with_control_characters_still_export_every_card(api, settings, tmp_path):
    """Cards saved before control characters were refused: the separator is stripped, so
    Anki takes every card instead of refusing the deck ("note has 4 fields, expected 2")."""
    from sqlalchemy import update

    from srs.kit.db import Database
    from srs.topics.models import Card

    topic = _topic(api, prompt="Old data")
    db = Database(settings.database_url)
    with db.transaction() as session:
        session.execute(
            update(Card).where(Card.topic_id == topic["id"]).values(back="old\x1fdata\x07")
        )
    db.dispose()
    package = tmp_path / "old.apkg"
    package.write_bytes(api.get(f"/topics/{topic['id']}/export.apkg").content)
    col = anki_collection(tmp_path)
    import_apkg(col, package)
    notes = [col.get_note(nid) for nid in col.find_notes("")]
    assert len(notes) == len(CARDS)
    assert {n.fields[1] for n in notes} == {"olddata"}
    assert "\x1f" not in api.get(f"/topics/{topic['id']}/export.csv").text
    col.close()
