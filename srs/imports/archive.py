"""Opening an uploaded Anki package safely: size caps, zip bombs, path traversal, truncated or
wrong-format files are refused with a clear 4xx before anything is imported.

Read with the standard library's zipfile and sqlite3 plus `zstandard` for the newer
`collection.anki21b`: Anki's own `anki` package would read every format, but it is a
desktop-app backend (AGPL, a large native library, a collection on disk per call) and is only
our test judge.
"""

from __future__ import annotations

import sqlite3
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import zstandard

from srs.kit.errors import AppError

# The newest collection format first: a modern package also holds a stub `collection.anki2`
# that only says "please update Anki".
COLLECTION_NAMES = ("collection.anki21b", "collection.anki21", "collection.anki2")
PACKAGE_METADATA = {"media", "meta", *COLLECTION_NAMES}
SQLITE_MAGIC = b"SQLite format 3\x00"
REQUIRED_TABLES = {"col", "notes", "cards", "revlog"}
# Real collections compress around 3-10x; a zip bomb compresses thousands of times.
MAX_RATIO = 200
RATIO_CHECKED_ABOVE = 1 << 20
CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    max_unpacked_bytes: int


@dataclass(frozen=True)
class OpenedPackage:
    collection: Path  # a plain SQLite file in our own temp folder
    media_files: int


def refused(message: str, status: int = 422) -> AppError:
    return AppError(message, code="invalid_import", status_code=status)


def _check_names(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        name = info.filename
        if "/" in name or "\\" in name or name.startswith(".") or ":" in name:
            raise refused(f"The archive entry {name!r} points outside the package; refused")


def _check_sizes(archive: zipfile.ZipFile, limits: Limits) -> None:
    total = sum(info.file_size for info in archive.infolist())
    if total > limits.max_unpacked_bytes:
        raise refused(
            f"The package would unpack to {total} bytes, over the {limits.max_unpacked_bytes} "
            "allowed",
            413,
        )
    for info in archive.infolist():
        if info.file_size > RATIO_CHECKED_ABOVE and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise refused(
                f"The archive entry {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
                " times: refused as a zip bomb"
            )


def _copy_capped(source, target: Path, cap: int, what: str) -> int:
    """Copy a stream to a file, refusing it as soon as it grows past `cap`, whatever its
    header declared."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > cap:
                raise refused(f"{what} unpacks to more than {cap} bytes: refused", 413)
            out.write(chunk)
    return written


def _extract_collection(archive: zipfile.ZipFile, name: str, folder: Path, limits: Limits) -> Path:
    target = folder / "collection.sqlite"
    info = archive.getinfo(name)
    with archive.open(info) as member:
        if name.endswith("anki21b"):
            reader = zstandard.ZstdDecompressor().stream_reader(member)
            _copy_capped(reader, target, limits.max_unpacked_bytes, name)
        else:
            _copy_capped(member, target, min(info.file_size, limits.max_unpacked_bytes), name)
    return target


def _unicase(left: str, right: str) -> int:
    left, right = left.casefold(), right.casefold()
    return (left > right) - (left < right)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Anki's newer schema orders names with its own `unicase` collation: provide one."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.create_collation("unicase", _unicase)
    return connection


def check_collection(path: Path) -> None:
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise refused("The package's collection is not an Anki collection (not SQLite)")
    try:
        connection = connect_readonly(path)
        try:
            if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise refused("The package's collection is damaged (truncated?)")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise refused(f"The package's collection cannot be read: {error}") from error
    if not REQUIRED_TABLES <= tables:
        raise refused("The package's collection lacks Anki's notes, cards or review log")


def open_package(upload: Path, folder: Path, limits: Limits) -> OpenedPackage:
    """Check an .apkg or .colpkg and unpack its collection into `folder`."""
    if not zipfile.is_zipfile(upload):
        raise refused("This is not an Anki package (.apkg or .colpkg are zip archives)")
    try:
        with zipfile.ZipFile(upload) as archive:
            _check_names(archive)
            _check_sizes(archive, limits)
            names = set(archive.namelist())
            chosen = next((n for n in COLLECTION_NAMES if n in names), None)
            if chosen is None:
                raise refused("The archive holds no Anki collection (collection.anki2/anki21b)")
            collection = _extract_collection(archive, chosen, folder, limits)
            media = len([n for n in names if n not in PACKAGE_METADATA])
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, zstandard.ZstdError) as error:
        raise refused(f"The package is damaged or truncated: {error}") from error
    check_collection(collection)
    return OpenedPackage(collection=collection, media_files=media)
