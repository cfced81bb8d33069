"""The official `anki` package (the library Anki's desktop app is built on) as the judge of
what we export and import."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from srs.accounts.models import User
from srs.kit.db import Database
from srs.study import service as study
from srs.topics.models import Card


def anki_collection(folder: Path, name: str = "collection.anki2"):
    """A fresh Anki collection with FSRS on, as a learner who uses FSRS would have it."""
    from tests.conftest import missing

    try:
        from anki.collection import Collection
    except ImportError:
        missing("the `anki` package (pip install -e .[dev])")
    col = Collection(str(folder / name))
    col.set_config("fsrs", True)
    return col


def import_apkg(col, path: Path) -> None:
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    col.import_anki_package(
        ImportAnkiPackageRequest(
            package_path=str(path),
            options=ImportAnkiPackageOptions(with_scheduling=True, merge_notetypes=True),
        )
    )


def anki_due(col, card, now: datetime) -> datetime:
    """When an Anki card falls due, as a UTC moment (the start of its day for day-based dues)."""
    if card.queue in (2, 3) or (card.queue < 0 and card.type == 2):
        today_start = datetime.fromtimestamp(col.sched.day_cutoff, UTC) - timedelta(days=1)
        return today_start + timedelta(days=card.due - col.sched.today)
    return datetime.fromtimestamp(card.due, UTC)


def study_history(
    database_url: str, email: str, days: int = 120, seed: int = 7, stop_days_ago: float = 0
) -> None:
    """Months of answers at past times: every card but the last is answered whenever due,
    sometimes late, with a mix of ratings, until `stop_days_ago` (so some are due now)."""
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(days=stop_days_ago)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            user = session.scalar(select(User).where(User.email == email))
            cards = session.scalars(select(Card).where(Card.user_id == user.id).order_by(Card.id))
            for card in list(cards)[:-1]:
                moment = now - timedelta(days=days, hours=rng.uniform(0, 48))
                while moment < now:
                    rating = rng.choice([1, 2, 3, 3, 3, 3, 4])
                    answered, _ = study.review(session, user, card.id, rating, 4000, now=moment)
                    moment = answered.due + timedelta(hours=rng.uniform(0, 30))
    finally:
        db.dispose()


# -- decks made in Anki, with history -----------------------------------------------------------

DAY_MS = 86_400_000


def _anki_history(rng: random.Random, first_day: datetime, today_start: datetime):
    """(revlog rows without card id, reps, lapses, last interval) for one card: learning steps
    on day 0, then reviews at noon on later days, the last one before today."""
    rows, moment = [], first_day.replace(hour=12, minute=0, second=0, microsecond=0)
    rows.append((int(moment.timestamp() * 1000), 3, -600, 0, 0, 0))  # learn: Good, 10 min
    moment += timedelta(minutes=10)
    rows.append((int(moment.timestamp() * 1000), 3, 1, -600, 0, 0))  # learn: Good, graduate
    interval, lapses, reps = 1, 0, 2
    while True:
        moment += timedelta(days=max(1, round(interval * rng.uniform(0.8, 1.3))))
        if moment >= today_start:
            break
        ease = rng.choice([1, 2, 3, 3, 3, 3, 4])
        last = interval
        interval = 1 if ease == 1 else max(1, round(interval * {2: 1.2, 3: 2.5, 4: 3.5}[ease]))
        lapses += ease == 1
        rows.append((int(moment.timestamp() * 1000), ease, interval, last, 2500, 1))
        reps += 1
    return rows, reps, lapses, interval


def anki_deck_with_history(
    folder: Path,
    *,
    basics: int = 30,
    reversed_notes: int = 5,
    cloze_notes: int = 3,
    new_cards: int = 4,
    legacy: bool = False,
    seed: int = 11,
    name: str = "made-in-anki.apkg",
):
    """An .apkg exported by Anki itself: Basic and reversed notes in two decks (one nested), a
    few cloze notes, some new cards, and months of review history on the rest. Anki computes
    each card's FSRS memory state from that history. Returns the package path and, per card
    front, what Anki holds: (due moment, stability, difficulty, reps, lapses, is_new)."""
    import anki.collection  # first: anki's modules import each other
    from anki.cards import FSRSMemoryState
    from anki.decks import DeckId

    ExportAnkiPackageOptions = anki.collection.ExportAnkiPackageOptions

    rng = random.Random(seed)
    col = anki_collection(folder, f"{name}.source.anki2")
    now = datetime.now(UTC)
    today_start = datetime.fromtimestamp(col.sched.day_cutoff, UTC) - timedelta(days=1)
    decks = [col.decks.id("Spanish"), col.decks.id("Spanish::Verbs")]
    basic, both = col.models.by_name("Basic"), col.models.by_name("Basic (and reversed card)")
    cloze = col.models.by_name("Cloze")
    for number in range(basics + reversed_notes):
        note = col.new_note(basic if number < basics else both)
        note["Front"] = f"<b>word {number}</b> &amp; co<br>second line"
        note["Back"] = f"answer {number} [sound:w{number}.mp3]"
        col.add_note(note, DeckId(decks[number % 2]))
    for number in range(cloze_notes):
        note = col.new_note(cloze)
        note["Text"] = f"The {{{{c1::capital}}}} number {number}"
        col.add_note(note, DeckId(decks[0]))
    expected = {}
    card_ids = [cid for cid in col.find_cards("-note:Cloze")]
    for index, cid in enumerate(sorted(card_ids)):
        card = col.get_card(cid)
        if index >= len(card_ids) - new_cards:
            continue
        first_day = now - timedelta(days=rng.randint(60, 400))
        rows, reps, lapses, interval = _anki_history(rng, first_day, today_start)
        for stamp, ease, ivl, last, factor, kind in rows:
            col.db.execute(
                "insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)"
                " values (?, ?, -1, ?, ?, ?, ?, 6000, ?)",
                stamp + index,
                cid,
                ease,
                ivl,
                last,
                factor,
                kind,
            )
        card.type, card.queue, card.ivl = 2, 2, interval
        card.due = col.sched.today + rng.randint(-3, 40)
        card.reps, card.lapses = reps, lapses
        col.update_card(card)
        computed = col.compute_memory_state(cid)
        card.memory_state = FSRSMemoryState(
            stability=computed.stability, difficulty=computed.difficulty
        )
        col.update_card(card)
    for cid in card_ids:
        card = col.get_card(cid)
        front = card.question(reload=True)
        expected[front] = card
    path = folder / name
    col.export_anki_package(
        out_path=str(path),
        options=ExportAnkiPackageOptions(
            with_scheduling=True, with_deck_configs=True, with_media=True, legacy=legacy
        ),
        limit=None,
    )
    summary = {}
    for card in expected.values():
        note = card.note()
        ordinal_front = note.fields[card.ord] if card.ord < 2 else note.fields[0]
        state = card.memory_state
        summary[(note.id, card.ord)] = {
            "front": ordinal_front,
            "due": anki_due(col, card, now) if card.type != 0 else None,
            "stability": state.stability if state else None,
            "difficulty": state.difficulty if state else None,
            "reps": card.reps,
            "lapses": card.lapses,
            "new": card.type == 0,
        }
    col.close()
    return path, list(summary.values())
