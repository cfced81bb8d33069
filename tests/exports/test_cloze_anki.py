"""Cloze cards through Anki, judged by the official `anki` package: our export arrives as one
note of a Cloze note type with a card per deletion, each with its own history, and Anki's
package of it imports back as the same cloze cards."""

from __future__ import annotations

import re
import time

from tests.support.anki import anki_collection, import_apkg, study_history

TEXT = "{{c1::Sodium}} has the symbol {{c2::Na}} and the atomic number {{c3::11::a number}}"


def _plain(html: str) -> str:
    without_css = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", "", without_css).replace("&nbsp;", " ").strip()


def _finished(api, job: dict) -> dict:
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = api.get(f"/imports/{job['id']}").json()
    return job


def test_cloze_cards_export_to_ankis_cloze_note_type_and_come_back(
    api, api_factory, settings, tmp_path
):
    from anki.collection import ExportAnkiPackageOptions
    from anki.models import MODEL_CLOZE

    topic = api.post("/topics", json={"prompt": "Elements", "card_style": "cloze"}).json()
    api.post(f"/topics/{topic['id']}/cards", json={"text": TEXT})
    api.post(f"/topics/{topic['id']}/cards", json={"front": "Symbol of gold?", "back": "Au"})
    study_history(settings.database_url, "ada@example.com")  # every card but the last
    ours = {
        (c["type"], c["cloze_ordinal"]): c
        for c in api.get(f"/topics/{topic['id']}/cards").json()["items"]
    }
    assert all(ours[("cloze", n)]["reps"] > 0 for n in (1, 2, 3))
    package = tmp_path / "elements.apkg"
    package.write_bytes(api.get(f"/topics/{topic['id']}/export.apkg").content)

    col = anki_collection(tmp_path)
    import_apkg(col, package)
    notes = [col.get_note(nid) for nid in col.find_notes("")]
    assert len(notes) == 2
    (cloze_note,) = [n for n in notes if n.note_type()["type"] == MODEL_CLOZE]
    assert cloze_note.fields[0] == TEXT
    cards = sorted(cloze_note.cards(), key=lambda card: card.ord)
    assert [card.ord for card in cards] == [0, 1, 2]
    for card in cards:
        mine = ours[("cloze", card.ord + 1)]
        assert (card.reps, card.lapses) == (mine["reps"], mine["lapses"])
        assert len(col.db.list("select id from revlog where cid = ?", card.id)) == mine["reps"]
        assert card.memory_state is not None and card.type != 0
    questions = [_plain(card.question()) for card in cards]
    assert questions[0].startswith("[...] has the symbol Na")
    assert "Sodium has the symbol [...]" in questions[1]
    assert questions[2].endswith("atomic number [a number]")
    assert "Sodium has the symbol Na and the atomic number 11" in _plain(cards[2].answer())

    # Anki's own package of that collection imports back as the same three cloze cards.
    back = tmp_path / "from-anki.apkg"
    col.export_anki_package(
        out_path=str(back),
        options=ExportAnkiPackageOptions(
            with_scheduling=True, with_deck_configs=True, with_media=False, legacy=False
        ),
        limit=None,
    )
    col.close()
    other = api_factory("grace@example.com")
    with open(back, "rb") as handle:
        job = other.post("/imports", files={"file": ("from-anki.apkg", handle.read())}).json()
    job = _finished(other, job)
    assert job["status"] == "done", job
    assert job["counts"]["cards"] == 4 and job["counts"]["cloze_notes"] == 1
    assert job["counts"]["skipped_cloze_notes"] == 0
    imported = other.get(f"/topics/{job['topic_ids'][0]}/cards").json()["items"]
    arrived = {(c["type"], c["cloze_ordinal"]): c for c in imported}
    for number in (1, 2, 3):
        card = arrived[("cloze", number)]
        assert card["text"] == TEXT and card["front"] == ours[("cloze", number)]["front"]
        assert card["reps"] == ours[("cloze", number)]["reps"]
        assert card["state"] == ours[("cloze", number)]["state"]
    assert arrived[("basic", None)]["front"] == "Symbol of gold?"
