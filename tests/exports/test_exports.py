"""Exports over real HTTP: the CSV opens with every card, the .apkg is an Anki collection."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from pathlib import Path

CARDS = [
    ("Capital of France?", "Paris"),
    ('What does "a, b" mean?', "Two letters,\nseparated by a comma"),
    ("Is 1 < 2 & 3 > 2?", "Yes"),
]


def _topic_with_cards(api, prompt: str = "Capitals, quotes & commas") -> dict:
    topic = api.post("/topics", json={"prompt": prompt}).json()
    for front, back in CARDS:
        created = api.post(f"/topics/{topic['id']}/cards", json={"front": front, "back": back})
        assert created.status_code == 201
    return topic


def _collection(tmp_path: Path, package: bytes) -> sqlite3.Connection:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert "collection.anki2" in archive.namelist()
        target = tmp_path / "collection.anki2"
        target.write_bytes(archive.read("collection.anki2"))
    return sqlite3.connect(target)


def test_csv_export_has_every_card_with_its_state(api):
    topic = _topic_with_cards(api)
    first = api.get(f"/topics/{topic['id']}/next").json()["card"]
    reviewed = api.post(f"/cards/{first['id']}/review", json={"rating": 3}).json()["card"]

    response = api.get(f"/topics/{topic['id']}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="capitals-quotes-commas.csv"' in disposition

    lines = response.text.split("\r\n")
    assert lines[:4] == ["#separator:Comma", "#html:false", "#notetype:Basic", "#deck:Capitals, quotes & commas"]
    columns = lines[4].removeprefix("#columns:").split(",")
    assert columns[:2] == ["Front", "Back"]  # scheduling columns come after the fields
    body = "\r\n".join(lines[5:])
    assert body.startswith('"')  # every field quoted, no header row
    rows = list(csv.DictReader(io.StringIO(body), fieldnames=columns))
    assert [(r["Front"], r["Back"]) for r in rows] == CARDS  # quotes, commas, newlines intact
    by_front = {r["Front"]: r for r in rows}
    studied = by_front["Capital of France?"]
    assert studied["State"] == "learning" and studied["Reps"] == "1" and studied["Lapses"] == "0"
    assert studied["Due"] == reviewed["due"].replace("Z", "+00:00")
    assert float(studied["Stability"]) > 0 and float(studied["Difficulty"]) > 0
    assert studied["Last review"]
    assert by_front["Is 1 < 2 & 3 > 2?"]["State"] == "new"
    assert by_front["Is 1 < 2 & 3 > 2?"]["Model"] == ""  # written by hand


def test_apkg_export_is_an_anki_collection_with_a_stable_deck(api, tmp_path):
    topic = _topic_with_cards(api)
    other = _topic_with_cards(api, prompt="Another topic")

    response = api.get(f"/topics/{topic['id']}/export.apkg")
    assert response.status_code == 200
    assert 'filename="capitals-quotes-commas.apkg"' in response.headers["content-disposition"]
    collection = _collection(tmp_path, response.content)
    fields = sorted(row[0] for row in collection.execute("SELECT flds FROM notes"))
    assert fields == sorted(
        [
            "Capital of France?\x1fParis",
            "Is 1 &lt; 2 &amp; 3 &gt; 2?\x1fYes",
            "What does &quot;a, b&quot; mean?\x1fTwo letters,<br>separated by a comma",
        ]
    )
    assert collection.execute("SELECT count(*) FROM cards").fetchone()[0] == len(CARDS)
    decks = json.loads(collection.execute("SELECT decks FROM col").fetchone()[0])
    named = {d["name"]: int(d["id"]) for d in decks.values()}
    deck_id = named["Capitals, quotes & commas"]
    collection.close()

    again = _collection(tmp_path, api.get(f"/topics/{topic['id']}/export.apkg").content)
    decks_again = json.loads(again.execute("SELECT decks FROM col").fetchone()[0])
    assert deck_id in {int(d["id"]) for d in decks_again.values()}  # re-import updates one deck
    again.close()

    third = _collection(tmp_path, api.get(f"/topics/{other['id']}/export.apkg").content)
    other_decks = json.loads(third.execute("SELECT decks FROM col").fetchone()[0])
    assert deck_id not in {int(d["id"]) for d in other_decks.values()}
    third.close()


def test_exports_of_someone_elses_topic_are_not_found(api, api_factory):
    topic = _topic_with_cards(api)
    stranger = api_factory("eve@example.com")
    for kind in ("csv", "apkg"):
        response = stranger.get(f"/topics/{topic['id']}/export.{kind}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api.get("/topics/999999/export.csv").status_code == 404
    assert api.get(f"/topics/{10**30}/export.apkg").status_code == 422  # not a 500


def test_exports_need_a_signed_in_user(api, base_url):
    import httpx

    topic = _topic_with_cards(api)
    response = httpx.get(f"{base_url}/api/v1/topics/{topic['id']}/export.csv")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_empty_topic_exports_a_header_only(api):
    topic = api.post("/topics", json={"prompt": "Nothing yet"}).json()
    response = api.get(f"/topics/{topic['id']}/export.csv")
    assert response.text.endswith("#columns:Front,Back,State,Due,Stability,Difficulty,"
                                  "Last review,Reps,Lapses,Level,Model\r\n")
    assert api.get(f"/topics/{topic['id']}/export.apkg").status_code == 200
