"""Imports: checking an upload at once (a clear 4xx for a bad file), then reading, replaying
and writing it in a background job whose progress the learner can follow.

Everything an import writes (topics, cards, history, and the job's `done`) goes in one
transaction: a failure leaves nothing behind but the job's `failed` and its reason.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.imports import repository
from srs.imports.anki_collection import read_collection
from srs.imports.archive import Limits, open_package, refused
from srs.imports.convert import ImportedCard, convert_collection
from srs.imports.delimited import read_delimited
from srs.imports.models import ImportJob, ImportStatus
from srs.kit.db import Database, utcnow
from srs.kit.errors import not_found
from srs.kit.settings import Settings
from srs.study import service as study
from srs.topics import service as topics
from srs.topics.models import Topic

log = logging.getLogger(__name__)
KINDS = {".apkg": "apkg", ".colpkg": "colpkg", ".csv": "csv", ".tsv": "tsv", ".txt": "csv"}
PROGRESS_STEP = 0.05


@dataclass(frozen=True)
class PreparedImport:
    """What the background job needs: the checked file in its own temp folder."""

    job_id: int
    user_id: int
    kind: str
    path: Path
    folder: Path
    filename: str
    media_files: int = 0


def kind_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in KINDS:
        raise refused("Import an Anki package (.apkg, .colpkg) or a CSV/TSV file", 415)
    return KINDS[suffix]


def limits(settings: Settings) -> Limits:
    return Limits(settings.import_max_bytes, settings.import_max_unpacked_bytes)


def start_import(
    session: Session,
    settings: Settings,
    user: User,
    filename: str,
    upload: Path,
    folder: Path,
    topic_id: int | None,
) -> tuple[ImportJob, PreparedImport]:
    """Check the file (4xx on anything wrong), record the job; the caller runs it after the
    commit."""
    kind = kind_of(filename)
    if topic_id is not None:
        topics.get_topic(session, user, topic_id)
    if upload.stat().st_size > settings.import_max_bytes:
        raise refused(f"The file is larger than {settings.import_max_bytes} bytes", 413)
    path, media = upload, 0
    if kind in ("apkg", "colpkg"):
        opened = open_package(upload, folder, limits(settings))
        path, media = opened.collection, opened.media_files
    else:
        cards, _counts = read_delimited(upload.read_bytes(), filename)
        if not cards:
            raise refused("The file holds no row with both a front and a back")
    job = ImportJob(user_id=user.id, topic_id=topic_id, filename=filename[:255], kind=kind)
    repository.add(session, job)
    return job, PreparedImport(job.id, user.id, kind, path, folder, filename, media)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    event.listen(session, "after_commit", lambda _session: action(), once=True)


def get_import(session: Session, user: User, job_id: int) -> ImportJob:
    job = repository.get(session, user.id, job_id)
    if job is None:
        raise not_found("Import not found")
    return job


def fail_interrupted(db: Database) -> int:
    """At start-up: jobs a stopped server left unfinished wrote nothing; say so."""
    with db.transaction() as session:
        return repository.fail_unfinished(
            session, "The server restarted during this import; nothing was imported. Upload again."
        )


# -- the background job ---------------------------------------------------------------------


class _Progress:
    def __init__(self, db: Database, job_id: int, start: float, span: float) -> None:
        self.db, self.job_id, self.start, self.span = db, job_id, start, span
        self.shown = -1.0

    def __call__(self, fraction: float) -> None:
        value = round(self.start + self.span * fraction, 3)
        if value - self.shown >= PROGRESS_STEP:
            self.shown = value
            _set(self.db, self.job_id, progress=value)


def _set(db: Database, job_id: int, **values) -> None:
    with db.transaction() as session:
        job = repository.get_any(session, job_id)
        if job is not None:
            for name, value in values.items():
                setattr(job, name, value)


def _read(db: Database, prepared: PreparedImport, user: User) -> tuple[list[ImportedCard], Counter]:
    if prepared.kind in ("apkg", "colpkg"):
        data = read_collection(prepared.path)
        _set(db, prepared.job_id, progress=0.1)
        scheduler = study.scheduler_for(user, fuzz=False)
        cards, counts = convert_collection(
            data, scheduler, _Progress(db, prepared.job_id, 0.1, 0.7)
        )
        counts["media_files"] = prepared.media_files
        return cards, counts
    return read_delimited(prepared.path.read_bytes(), prepared.filename)


def _card_row(card: ImportedCard) -> dict:
    memory = card.memory
    return {
        "front": card.front,
        "back": card.back,
        "state": int(memory.state),
        "step": memory.step,
        "stability": memory.stability,
        "difficulty": memory.difficulty,
        "due": memory.due or utcnow(),
        "last_review": memory.last_review,
        "reps": card.reps,
        "lapses": card.lapses,
        "suspended": card.suspended,
        "cloze_text": card.cloze_text,
        "cloze_ordinal": card.cloze_ordinal,
        "note_guid": card.note_guid,
    }


def _deck_topics(
    session: Session, user: User, job: ImportJob, decks: list[str]
) -> dict[str, Topic]:
    if job.topic_id is not None:
        chosen = topics.get_topic(session, user, job.topic_id)
        return {deck: chosen for deck in decks}
    made = {}
    for deck in decks:
        title = deck.replace("::", " / ") or "Imported"
        prompt = f"Cards imported from the Anki deck “{title}”"
        made[deck] = topics.add_imported_topic(session, user, title, prompt)
    return made


def _write(session: Session, user: User, job: ImportJob, cards: list[ImportedCard]) -> list[int]:
    by_deck: dict[str, list[ImportedCard]] = defaultdict(list)
    for card in cards:
        by_deck[card.deck].append(card)
    targets = _deck_topics(session, user, job, list(by_deck))
    for deck, deck_cards in by_deck.items():
        topic = targets[deck]
        ids = topics.add_imported_cards(session, topic, [_card_row(c) for c in deck_cards])
        study.add_past_answers(
            session,
            [
                study.PastAnswer(
                    card_id=card_id,
                    topic_id=topic.id,
                    user_id=user.id,
                    rating=review.rating,
                    reviewed_at=review.at,
                    duration_ms=review.duration_ms,
                    before=review.before,
                    reps_before=review.reps_before,
                    lapses_before=review.lapses_before,
                )
                for card_id, card in zip(ids, deck_cards, strict=True)
                for review in card.history
            ],
        )
    return sorted({t.id for t in targets.values()})


def run_import(db: Database, prepared: PreparedImport) -> None:
    try:
        _set(db, prepared.job_id, status=ImportStatus.RUNNING.value, progress=0.02)
        with db.transaction(write=False) as session:
            user = session.get(User, prepared.user_id)
            if user is None:
                return
            session.expunge(user)
        cards, counts = _read(db, prepared, user)
        _set(db, prepared.job_id, progress=0.85)
        with db.transaction() as session:
            job = repository.get_any(session, prepared.job_id)
            topic_ids = _write(session, user, job, cards)
            counts["topics"] = len(topic_ids)
            job.counts = {k: int(v) for k, v in sorted(counts.items())}
            job.topic_ids = topic_ids
            job.status, job.progress, job.finished_at = ImportStatus.DONE.value, 1.0, utcnow()
    except Exception as error:  # the job's status carries the failure to the learner
        log.exception("import %s failed", prepared.job_id)
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        _set(
            db,
            prepared.job_id,
            status=ImportStatus.FAILED.value,
            error=f"Nothing was imported: {message}",
            finished_at=utcnow(),
        )
    finally:
        shutil.rmtree(prepared.folder, ignore_errors=True)
