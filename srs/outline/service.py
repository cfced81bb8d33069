"""A topic's outline: the subtopics its card batches are spread over.

The model writes the first outline when the topic is created and extends it when every
subtopic is well covered; the learner can rename, remove and add subtopics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.errors import invalid
from srs.outline import repository
from srs.outline.models import Subtopic
from srs.outline.schemas import MAX_SUBTOPICS, OutlineIn, OutlineOut, SubtopicOut
from srs.topics import service as topics

# A subtopic is "well covered" once it holds this many cards within LEVEL_WINDOW of the level
# being asked for: one default batch. When every subtopic is, the outline is extended.
WELL_COVERED = 10
LEVEL_WINDOW = 1


@dataclass(frozen=True)
class Coverage:
    target_id: int | None  # the least-covered subtopic (first in outline order on a tie)
    all_covered: bool


def least_covered(
    subtopic_ids: Sequence[int],
    counts: Mapping[int, int],
    well_covered: int = WELL_COVERED,
    exhausted: AbstractSet[int] = frozenset(),
) -> Coverage:
    """Pure: which subtopic the next batch should target, and whether all are covered. An
    exhausted subtopic (where the model ran dry) counts as covered, and is a target only when
    every subtopic is exhausted: the next batch goes where new cards can still come from."""
    if not subtopic_ids:
        return Coverage(None, False)
    candidates = [sid for sid in subtopic_ids if sid not in exhausted] or list(subtopic_ids)
    target = min(candidates, key=lambda sid: counts.get(sid, 0))  # min keeps the first tie
    covered = all(sid in exhausted or counts.get(sid, 0) >= well_covered for sid in subtopic_ids)
    return Coverage(target, covered)


def level_window(level: int) -> tuple[int, int]:
    return level - LEVEL_WINDOW, level + LEVEL_WINDOW


# -- for the generation worker ---------------------------------------------------------------


def subtopics(session: Session, topic_id: int) -> list[Subtopic]:
    return repository.subtopics(session, topic_id)


def get_subtopic(session: Session, subtopic_id: int) -> Subtopic | None:
    return repository.get(session, subtopic_id)


def coverage(
    session: Session, topic_id: int, level: int, exhausted: AbstractSet[int] = frozenset()
) -> Coverage:
    ids = [s.id for s in repository.subtopics(session, topic_id)]
    counts = topics.cards_per_subtopic(session, topic_id, level_window(level))
    return least_covered(ids, counts, exhausted=exhausted)


def is_full(session: Session, topic_id: int) -> bool:
    return repository.count(session, topic_id) >= MAX_SUBTOPICS


def add_generated(session: Session, topic_id: int, items: Iterable[tuple[str, str]]) -> int:
    """Append the model's (name, scope) pairs, skipping names the outline already has and
    stopping at MAX_SUBTOPICS; returns how many were added."""
    existing = repository.subtopics(session, topic_id)
    seen = {_key(s.name) for s in existing}
    position = max((s.position for s in existing), default=-1) + 1
    added = 0
    for name, scope in items:
        if _key(name) in seen or len(seen) >= MAX_SUBTOPICS:
            continue
        repository.add(
            session, Subtopic(topic_id=topic_id, name=name, scope=scope, position=position)
        )
        seen.add(_key(name))
        position += 1
        added += 1
    return added


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


# -- for the API -----------------------------------------------------------------------------


def get_outline(session: Session, user: User, topic_id: int) -> OutlineOut:
    topic = topics.get_topic(session, user, topic_id)
    counts = topics.cards_per_subtopic(session, topic.id)
    return OutlineOut(
        subtopics=[
            SubtopicOut(id=s.id, name=s.name, scope=s.scope, cards=counts.get(s.id, 0))
            for s in repository.subtopics(session, topic.id)
        ]
    )


def replace_outline(session: Session, user: User, topic_id: int, data: OutlineIn) -> OutlineOut:
    """Make the outline exactly `data`: listed ids kept (renamed, reordered), entries without an
    id added, the others removed (their cards stay, with no subtopic)."""
    topic = topics.get_topic(session, user, topic_id, lock=True)
    current = {s.id: s for s in repository.subtopics(session, topic.id)}
    _check(data, current)
    kept = {item.id for item in data.subtopics if item.id is not None}
    for subtopic_id, row in current.items():
        if subtopic_id not in kept:
            repository.delete(session, row)
    for position, item in enumerate(data.subtopics):
        if item.id is None:
            row = Subtopic(topic_id=topic.id, name=item.name, scope=item.scope, position=position)
            repository.add(session, row)
        else:
            row = current[item.id]
            row.name, row.scope, row.position = item.name, item.scope, position
    session.flush()
    return get_outline(session, user, topic.id)


def _check(data: OutlineIn, current: Mapping[int, Subtopic]) -> None:
    ids = [item.id for item in data.subtopics if item.id is not None]
    unknown = sorted(set(ids) - set(current))
    if unknown:
        raise invalid(f"Subtopic ids {unknown} are not in this topic's outline")
    if len(ids) != len(set(ids)):
        raise invalid("A subtopic id is listed twice")
    names = [_key(item.name) for item in data.subtopics]
    if len(names) != len(set(names)):
        raise invalid("Two subtopics have the same name")
