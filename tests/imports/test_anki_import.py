"""Imports over real HTTP, judged by the official `anki` package: decks made in Anki arrive
with the memory states and due dates Anki had, and go back to Anki unchanged."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime

import pytest

from srs.imports.convert import html_to_text
from tests.support.anki import anki_collection, anki_deck_with_history, anki_due, import_apkg


def upload(api, path, topic_id=None):
    data = {"topic_id": str(topic_id)} if topic_id else None
    with open(path, "rb") as handle:
        return api.post("/imports", files={"file": (path.name, handle.read())}, data=data)


def finished(api, job: dict, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = api.get(f"/imports/{job['id']}").json()
    return job


def exported_rows(api, topic_id: int) -> dict[str, dict]:
    text = api.get(f"/topics/{topic_id}/export.csv").text
    lines = text.split("\r\n")
    columns = next(line for line in lines if line.startswith("#columns:"))[9:].split(",")
    body = "\r\n".join(line for line in lines if not line.startswith("#"))
    return {row["Front"]: row for row in csv.DictReader(io.StringIO(body), fieldnames=columns)}


@pytest.mark.parametrize("legacy", [False, True], ids=["anki21b", "anki21"])
def test_a_deck_made_in_anki_arrives_with_its_memory_states_and_due_dates(api, tmp_path, legacy):
    package, expected = anki_deck_with_history(tmp_path, legacy=legacy)
    response = upload(api, package)
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("queued", "running", "done")
    job = finished(api, response.json())
    assert job["status"] == "done", job
    counts = job["counts"]
    # The three cloze notes (one deletion each) arrive as cloze cards, no longer skipped.
    assert counts["cards"] == len(expected) + 3 and counts["cloze_notes"] == 3
    assert counts.get("skipped_cloze_notes", 0) == counts.get("skipped_cloze_cards", 0) == 0
    assert counts["media_references"] == 40 and counts["reviews"] > 300
    titles = {t["title"]: t["id"] for t in api.get("/topics").json()["items"]}
    assert set(titles) == {"Spanish", "Spanish / Verbs"}
    assert sorted(job["topic_ids"]) == sorted(titles.values())
    rows = {}
    for topic_id in titles.values():
        rows.update(exported_rows(api, topic_id))
    for card in expected:
        ours = rows[html_to_text(card["front"])]
        assert (int(ours["Reps"]) if not card["new"] else 0) == (0 if card["new"] else card["reps"])
        if card["new"]:
            assert ours["State"] == "new"
            continue
        assert ours["State"] == "review" and int(ours["Lapses"]) == card["lapses"]
        assert float(ours["Stability"]) == pytest.approx(card["stability"], rel=0.01)
        assert float(ours["Difficulty"]) == pytest.approx(card["difficulty"], rel=0.01)
        assert abs((datetime.fromisoformat(ours["Due"]) - card["due"]).total_seconds()) < 86_400


def test_anki_to_srs_to_anki_keeps_every_card_and_its_schedule(api, tmp_path):
    package, expected = anki_deck_with_history(tmp_path)
    job = finished(api, upload(api, package).json())
    assert job["status"] == "done"
    col = anki_collection(tmp_path, "back-in-anki.anki2")
    for topic_id in job["topic_ids"]:
        path = tmp_path / f"topic-{topic_id}.apkg"
        path.write_bytes(api.get(f"/topics/{topic_id}/export.apkg").content)
        import_apkg(col, path)
    now = datetime.now().astimezone()
    back = {}
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        back[html_to_text(card.note().fields[0])] = card
    clozes = {text: card for text, card in back.items() if "{{c1::" in text}
    assert len(clozes) == 3 and len(back) == len(expected) + 3
    assert {card.note().note_type()["type"] for card in clozes.values()} == {1}  # Cloze
    for original in expected:
        card = back[html_to_text(original["front"])]
        if original["new"]:
            assert card.type == 0
            continue
        assert (
            card.type == 2 and card.reps == original["reps"] and card.lapses == original["lapses"]
        )
        assert card.memory_state.stability == pytest.approx(original["stability"], rel=0.01)
        assert card.memory_state.difficulty == pytest.approx(original["difficulty"], rel=0.01)
        assert abs((anki_due(col, card, now) - original["due"]).total_seconds()) < 86_400
        assert len(col.db.list("select id from revlog where cid = ?", card.id)) == card.reps
    col.close()


def test_everything_goes_into_a_chosen_topic_and_nothing_is_generated_or_billed(api, tmp_path):
    chosen = api.post("/topics", json={"prompt": "My Spanish"}).json()
    package, expected = anki_deck_with_history(tmp_path, basics=6, reversed_notes=0, new_cards=2)
    job = finished(api, upload(api, package, topic_id=chosen["id"]).json())
    assert job["status"] == "done" and job["topic_ids"] == [chosen["id"]]
    assert len(api.get("/topics").json()["items"]) == 1
    cards = api.get(f"/topics/{chosen['id']}/cards").json()["items"]
    assert len(cards) == len(expected) + 3 and all(c["model"] is None for c in cards)
    clozes = [c for c in cards if c["type"] == "cloze"]  # the deck's three cloze notes
    assert [(c["front"], c["cloze_ordinal"]) for c in clozes] == [
        (f"The [...] number {n}", 1) for n in range(3)
    ]
    assert api.get("/usage").json()["cards"]["used"] == 0


def test_imported_topics_do_not_use_up_the_topic_limit_and_do_not_generate(api, tmp_path):
    package, _ = anki_deck_with_history(tmp_path, basics=4, reversed_notes=0, new_cards=1)
    for _ in range(2):  # four imported topics on a three-topic plan
        assert finished(api, upload(api, package).json())["status"] == "done"
    topics = api.get("/topics").json()["items"]
    assert len(topics) == 4
    assert {t["generation"]["status"] for t in topics} == {"idle"}
    for number in range(3):
        assert api.post("/topics", json={"prompt": f"Own topic {number}"}).status_code == 201


def test_someone_elses_import_and_topic_are_not_found(api, api_factory, tmp_path):
    package, _ = anki_deck_with_history(tmp_path, basics=2, reversed_notes=0, cloze_notes=0)
    job = upload(api, package).json()
    stranger = api_factory("eve@example.com")
    assert stranger.get(f"/imports/{job['id']}").status_code == 404
    theirs = api.post("/topics", json={"prompt": "Mine"}).json()
    refused = upload(stranger, package, topic_id=theirs["id"])
    assert refused.status_code == 404
    finished(api, job)


def test_a_whole_collection_package_imports(api, tmp_path):
    """A .colpkg (Anki's "export collection", the newer zstd format) imports like an .apkg."""
    col = anki_collection(tmp_path, "whole.anki2")
    from anki.decks import DeckId  # after anki.collection: anki's modules import each other

    basic = col.models.by_name("Basic")
    for number in range(4):
        note = col.new_note(basic)
        note["Front"], note["Back"] = f"colpkg question {number}", f"answer {number}"
        col.add_note(note, DeckId(col.decks.id("Whole")))
    package = tmp_path / "whole.colpkg"
    col.export_collection_package(str(package), include_media=True, legacy=False)
    job = finished(api, upload(api, package).json())
    assert job["status"] == "done" and job["counts"]["cards"] == 4
    assert [t["title"] for t in api.get("/topics").json()["items"]] == ["Whole"]
