"""The official `anki` package (the library Anki's desktop app is built on) as the judge of
what we export and import."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
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
        today_start = datetime.fromtimestamp(col.sched.day_cutoff, timezone.utc) - timedelta(days=1)
        return today_start + timedelta(days=card.due - col.sched.today)
    return datetime.fromtimestamp(card.due, timezone.utc)


def study_history(
    database_url: str, email: str, days: int = 120, seed: int = 7, stop_days_ago: float = 0
) -> None:
    """Months of answers at past times: every card but the last is answered whenever due,
    sometimes late, with a mix of ratings, until `stop_days_ago` (so some are due now)."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc) - timedelta(days=stop_days_ago)
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
