"""Turning Anki notes, cards and review logs into our cards with their memory state. Pure.

Each card's review log is replayed through FSRS (py-fsrs, the learner's own parameters), so
the card arrives with the stability and difficulty its history gives; the due date is the one
Anki had set, so nothing falls due earlier or later than the learner expects.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import fsrs
import lxml.html
from fsrs_rs_python import DEFAULT_PARAMETERS, FSRS
from lxml import etree

from srs.imports.anki_collection import AnkiCard, AnkiCollectionData, RevlogEntry
from srs.kit.text import strip_control_characters
from srs.study.scheduling import (
    LEARNING_STEPS,
    RELEARNING_STEPS,
    MemoryState,
    Rating,
    State,
    replay,
)
from srs.topics import cloze

_MEDIA = re.compile(r"\[sound:[^\]]*\]|<img\b[^>]*>|<audio\b[^>]*>|<video\b[^>]*>", re.IGNORECASE)
_BREAKS = re.compile(r"<br\s*/?>|</(?:div|p|li|tr|h[1-6])\s*>", re.IGNORECASE)
REVLOG_MANUAL, REVLOG_RESCHEDULED, REVLOG_FILTERED = 4, 5, 3
QUEUE_LEARN, QUEUE_REVIEW, QUEUE_DAY_LEARN = 1, 2, 3
TYPE_NEW, TYPE_LEARN, TYPE_REVIEW, TYPE_RELEARN = 0, 1, 2, 3


@dataclass(frozen=True)
class ImportedReview:
    rating: int
    at: datetime
    duration_ms: int | None
    before: MemoryState
    reps_before: int
    lapses_before: int


@dataclass(frozen=True)
class ImportedCard:
    deck: str
    front: str
    back: str
    memory: MemoryState
    reps: int
    lapses: int
    suspended: bool
    history: tuple[ImportedReview, ...] = ()
    # A card of an Anki Cloze note: the note's text, this card's deletion number, Anki's guid.
    cloze_text: str | None = None
    cloze_ordinal: int | None = None
    note_guid: str | None = None


@dataclass(frozen=True)
class Sides:
    front: str
    back: str
    cloze_text: str | None = None
    cloze_ordinal: int | None = None


def html_to_text(field: str) -> str:
    """The text a learner saw: tags dropped, line breaks kept, entities decoded, media gone."""
    without_media = _MEDIA.sub("", field)
    with_breaks = _BREAKS.sub("\n", without_media)
    if "<" in with_breaks or "&" in with_breaks:
        try:
            text = lxml.html.fragment_fromstring(with_breaks, create_parent="div").text_content()
        except (etree.ParserError, ValueError):  # e.g. a field holding only a comment
            text = html.unescape(re.sub(r"<[^>]*>", "", with_breaks))
    else:
        text = with_breaks
    text = strip_control_characters(text.replace("\xa0", " "))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def media_references(field: str) -> int:
    return len(_MEDIA.findall(field))


def graded_history(entries: Iterable[RevlogEntry]) -> list[RevlogEntry]:
    """The answers FSRS should see, as Anki picks them: those after the last reset to new,
    without manual reschedules and without cramming that did not reschedule."""
    kept: list[RevlogEntry] = []
    for entry in entries:
        if entry.ease == 0 and entry.kind in (REVLOG_MANUAL, REVLOG_RESCHEDULED):
            if entry.interval == 0 and entry.kind == REVLOG_MANUAL:
                kept = []  # "Forget": the card started over
            continue
        if entry.kind == REVLOG_FILTERED and entry.factor == 0:
            continue
        if 1 <= entry.ease <= 4:
            kept.append(entry)
    return kept


def _lapsed(before: MemoryState, rating: int) -> bool:
    return before.state == State.REVIEW and not before.is_new and rating == Rating.AGAIN


def replay_history(
    scheduler: fsrs.Scheduler, entries: list[RevlogEntry]
) -> tuple[MemoryState, tuple[ImportedReview, ...], int]:
    states = replay(scheduler, [(entry.ease, entry.at) for entry in entries])
    history, lapses = [], 0
    for number, (entry, before) in enumerate(zip(entries, states, strict=False)):
        history.append(
            ImportedReview(entry.ease, entry.at, entry.taken_ms or None, before, number, lapses)
        )
        lapses += _lapsed(before, entry.ease)
    return states[-1], tuple(history), lapses


def _anki_due(data: AnkiCollectionData, card: AnkiCard) -> datetime:
    if card.queue == QUEUE_LEARN or (card.queue < 0 and card.due > 1_000_000_000):
        return datetime.fromtimestamp(card.due, UTC)
    return data.clock.day_start(card.due)


def _anki_state(card: AnkiCard) -> tuple[State, int | None]:
    if card.type == TYPE_REVIEW:
        return State.REVIEW, None
    return (State.RELEARNING, 0) if card.type == TYPE_RELEARN else (State.LEARNING, 0)


def _sm2_memory(card: AnkiCard, desired_retention: float) -> tuple[float, float]:
    ease = 2.5
    if card.reviews and card.reviews[-1].factor:
        ease = card.reviews[-1].factor / 1000
    state = FSRS(list(DEFAULT_PARAMETERS)).memory_state_from_sm2(
        ease, float(max(card.interval, 1)), desired_retention
    )
    return float(state.stability), float(state.difficulty)


def schedule_card(
    data: AnkiCollectionData,
    card: AnkiCard,
    scheduler: fsrs.Scheduler,
    counts: Counter,
) -> tuple[MemoryState, int, int, tuple[ImportedReview, ...]]:
    """(memory state, reps, lapses, replayed history) for one Anki card."""
    if card.type == TYPE_NEW:
        return MemoryState(), 0, 0, ()
    memory, history, lapses = replay_history(scheduler, graded_history(card.reviews))
    state, step = _anki_state(card)
    if memory.is_new or memory.stability is None:
        counts["cards_without_history"] += 1
        stability, difficulty = _sm2_memory(card, scheduler.desired_retention)
        memory = MemoryState(state=state, step=step, stability=stability, difficulty=difficulty)
        assumed = _anki_due(data, card) - timedelta(days=max(card.interval, 0))
        memory = replace(memory, last_review=card.reviews[-1].at if card.reviews else assumed)
    if memory.state != state:  # Anki's own learning steps may differ from ours
        steps = LEARNING_STEPS if state == State.LEARNING else RELEARNING_STEPS
        memory = replace(
            memory, state=state, step=None if state == State.REVIEW else len(steps) - 1
        )
    memory = replace(memory, due=_anki_due(data, card))
    counts["reviews"] += len(history)
    return memory, max(card.reps, len(history)), max(card.lapses, lapses), history


def _cloze_sides(note_type, note, card: AnkiCard, counts: Counter) -> Sides | None:
    """A card of a Cloze note: the note's Text field (the first field where a note type has
    no field of that name) checked as our cloze notes are; Anki's ord N - 1 is deletion cN."""
    field = note.fields[note_type.fields.index("Text")] if "Text" in note_type.fields else ""
    field = field or (note.fields[0] if note.fields else "")
    counts["media_references"] += media_references(field)
    try:
        parsed = cloze.parse(html_to_text(field))
    except cloze.ClozeError:
        counts["skipped_cloze_cards"] += 1  # a text our cloze notes refuse (nested, too long)
        return None
    number = card.ordinal + 1
    if number not in parsed.ordinals:
        counts["skipped_empty"] += 1  # Anki's "empty card": its deletion left the text
        return None
    return Sides(parsed.front(number), parsed.back(), parsed.text, number)


def _sides(data: AnkiCollectionData, card: AnkiCard, counts: Counter) -> Sides | None:
    note = data.notes.get(card.note_id)
    note_type = data.note_types.get(note.notetype_id) if note else None
    if note is None or note_type is None:
        counts["skipped_broken"] += 1
        return None
    if note_type.cloze:
        return _cloze_sides(note_type, note, card, counts)
    sides = note_type.sides.get(card.ordinal)
    if sides is None or max(sides) >= len(note.fields):
        counts["skipped_unsupported"] += 1
        return None
    front, back = (note.fields[i] for i in sides)
    counts["media_references"] += media_references(front) + media_references(back)
    front_text, back_text = html_to_text(front), html_to_text(back)
    if not front_text or not back_text:
        counts["skipped_empty"] += 1  # e.g. an image-only side: its media are not imported
        return None
    return Sides(front_text, back_text)


def convert_collection(
    data: AnkiCollectionData,
    scheduler: fsrs.Scheduler,
    progress: Callable[[float], None] = lambda _fraction: None,
) -> tuple[list[ImportedCard], Counter]:
    counts: Counter = Counter()
    cards: list[ImportedCard] = []
    notes: set[int] = set()
    cloze_notes: set[int] = set()
    total = max(len(data.cards), 1)
    for number, card in enumerate(data.cards):
        if number % 500 == 0:
            progress(number / total)
        sides = _sides(data, card, counts)
        if sides is None:
            continue
        notes.add(card.note_id)
        memory, reps, lapses, history = schedule_card(data, card, scheduler, counts)
        deck = data.decks.get(card.deck_id) or "Imported"
        is_cloze = sides.cloze_text is not None
        if is_cloze:
            cloze_notes.add(card.note_id)
        cards.append(
            ImportedCard(
                deck,
                sides.front,
                sides.back,
                memory,
                reps,
                lapses,
                card.queue == -1,
                history,
                cloze_text=sides.cloze_text,
                cloze_ordinal=sides.cloze_ordinal,
                note_guid=data.notes[card.note_id].guid if is_cloze else None,
            )
        )
    counts["cards"] = len(cards)
    counts["notes"] = len(notes)
    counts["cloze_notes"] = len(cloze_notes)
    # Cloze notes none of whose cards could be taken (a text our cloze notes refuse).
    cloze_types = {ntid for ntid, kind in data.note_types.items() if kind.cloze}
    counts["skipped_cloze_notes"] = sum(
        nid not in cloze_notes and n.notetype_id in cloze_types for nid, n in data.notes.items()
    )
    return cards, counts
