"""Bad uploads get a clear 4xx at once and leave nothing behind: zip bombs, path traversal,
truncated or wrong-format archives, oversized files. A file that fails later, in the
background job, ends `failed` with nothing half-imported."""

from __future__ import annotations

import io
import os
import sqlite3
import zipfile

import pytest

from tests.conftest import make_settings
from tests.imports.test_anki_import import finished
from tests.support.anki import anki_deck_with_history

MAX_UPLOAD = 2 * 1024 * 1024
MAX_UNPACKED = 20 * 1024 * 1024


@pytest.fixture
def settings(database_url):
    return make_settings(
        database_url, import_max_bytes=MAX_UPLOAD, import_max_unpacked_bytes=MAX_UNPACKED
    )


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _zeros_zip(name: str, size: int) -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w", force_zip64=True) as entry,
    ):
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            entry.write(chunk)
    return buffer.getvalue()


def _refused(api, name: str, content: bytes, status: int) -> str:
    response = api.post("/imports", files={"file": (name, content)})
    assert response.status_code == status, response.text
    assert api.get("/topics").json()["items"] == []  # nothing imported
    return response.json()["error"]["message"]


def test_zip_bombs_are_refused(api):
    assert "zip bomb" in _refused(api, "bomb.apkg", _zeros_zip("collection.anki2", 10 << 20), 422)
    assert "unpack" in _refused(api, "huge.apkg", _zeros_zip("collection.anki2", 30 << 20), 413)


def test_path_traversal_is_refused(api, tmp_path):
    package, _ = anki_deck_with_history(tmp_path, basics=2, reversed_notes=0, cloze_notes=0)
    with zipfile.ZipFile(package) as original:
        entries = {name: original.read(name) for name in original.namelist()}
    entries["../../../tmp/evil.sh"] = b"#!/bin/sh\n"
    assert "outside the package" in _refused(api, "evil.apkg", _zip(entries), 422)
    assert not os.path.exists("/tmp/evil.sh")


def test_truncated_and_wrong_format_archives_are_refused(api, tmp_path):
    package, _ = anki_deck_with_history(tmp_path, basics=8, reversed_notes=0, cloze_notes=0)
    content = package.read_bytes()
    _refused(api, "cut.apkg", content[: len(content) // 2], 422)
    _refused(api, "picture.apkg", b"\x89PNG\r\n\x1a\n" + os.urandom(2000), 422)
    _refused(api, "empty.apkg", _zip({"readme.txt": b"hello"}), 422)
    _refused(api, "notsqlite.colpkg", _zip({"collection.anki2": b"plain text " * 100}), 422)
    _refused(api, "report.pdf", b"%PDF-1.7", 415)
    _refused(api, "binary.csv", b"front,back\x00\x01", 422)
    _refused(api, "big.apkg", os.urandom(MAX_UPLOAD + 1), 413)


def test_a_collection_that_fails_while_importing_leaves_nothing(api, tmp_path):
    """Tables in place but no collection row: it passes the checks, fails in the job."""
    path = tmp_path / "collection.anki2"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE col (crt, conf, models, decks); CREATE TABLE notes (id, mid, flds, tags);"
        "CREATE TABLE cards (id); CREATE TABLE revlog (id);"
    )
    db.close()
    response = api.post(
        "/imports", files={"file": ("odd.apkg", _zip({"collection.anki2": path.read_bytes()}))}
    )
    assert response.status_code == 202
    job = finished(api, response.json())
    assert job["status"] == "failed" and job["error"].startswith("Nothing was imported")
    assert api.get("/topics").json()["items"] == []
