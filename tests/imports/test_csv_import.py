"""CSV and TSV imports: Anki's own CSV export, our export (scheduling restored), plain files."""

from __future__ import annotations

import pytest

from tests.imports.test_anki_import import exported_rows, finished
from tests.support.anki import anki_collection, study_history


def _upload_bytes(api, name: str, content: bytes, topic_id=None):
    data = {"topic_id": str(topic_id)} if topic_id else None
    return api.post("/imports", files={"file": (name, content)}, data=data)


def test_anki_note_csv_with_html_and_deck_column_imports(api, tmp_path):
    col = anki_collection(tmp_path)
    from anki.decks import DeckId  # after anki.collection: anki's modules import each other

    basic = col.models.by_name("Basic")
    for number in range(3):
        note = col.new_note(basic)
        note["Front"], note["Back"] = f"<b>q{number}</b>, x", f"a{number}<br>line two"
        col.add_note(note, DeckId(col.decks.id("Deck A" if number else "Deck B")))
    path = tmp_path / "notes.txt"
    col.export_note_csv(
        out_path=str(path),
        limit=None,
        with_html=True,
        with_tags=True,
        with_deck=True,
        with_notetype=True,
        with_guid=True,
    )
    col.close()
    job = finished(api, _upload_bytes(api, "notes.txt", path.read_bytes()).json())
    assert job["status"] == "done" and job["counts"]["cards"] == 3
    topics = {t["title"]: t["id"] for t in api.get("/topics").json()["items"]}
    assert set(topics) == {"Deck A", "Deck B"}
    cards = api.get(f"/topics/{topics['Deck B']}/cards").json()["items"]
    assert [(c["front"], c["back"]) for c in cards] == [("q0, x", "a0\nline two")]


def test_plain_tsv_without_header_lines(api):
    content = b"Capital of France?\tParis\nWhat is <vector>?\tA C++ header\n\nlonely row\n"
    job = finished(api, _upload_bytes(api, "capitals.tsv", content).json())
    assert job["status"] == "done"
    assert job["counts"]["cards"] == 2 and job["counts"]["skipped_short_rows"] == 1
    topic = api.get("/topics").json()["items"][0]
    assert topic["title"] == "capitals"
    fronts = {c["front"] for c in api.get(f"/topics/{topic['id']}/cards").json()["items"]}
    assert fronts == {"Capital of France?", "What is <vector>?"}  # plain text stays text


def test_our_csv_export_comes_back_with_its_scheduling(api, settings):
    topic = api.post("/topics", json={"prompt": "Round trip"}).json()
    for number in range(5):
        api.post(
            f"/topics/{topic['id']}/cards", json={"front": f"=q{number}", "back": f"a{number}"}
        )
    study_history(settings.database_url, "ada@example.com", days=90)
    exported = api.get(f"/topics/{topic['id']}/export.csv").content
    before = exported_rows(api, topic["id"])
    job = finished(api, _upload_bytes(api, "round-trip.csv", exported).json())
    assert job["status"] == "done" and job["counts"]["cards"] == 5
    new_topic = next(t for t in job["topic_ids"] if t != topic["id"])
    after = exported_rows(api, new_topic)
    assert set(after) == set(before)  # the formula guard's apostrophe is taken off again
    for front, row in before.items():
        assert after[front]["State"] == row["State"]
        if row["State"] != "new":
            assert after[front]["Due"] == row["Due"]
            assert float(after[front]["Stability"]) == pytest.approx(float(row["Stability"]))
    cards = api.get(f"/topics/{new_topic}/cards").json()["items"]
    assert {c["front"] for c in cards} == {f"={n}".replace("=", "=q") for n in range(5)}
