"""Every query of the sources domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, exists, func, literal, select, union_all, update
from sqlalchemy.orm import Session

from srs.sources.models import CardCitation, Passage, Source, SourceStatus, SourceUsage

UNFINISHED = (SourceStatus.PENDING.value, SourceStatus.EXTRACTING.value)


def add(session: Session, source: Source) -> Source:
    session.add(source)
    session.flush()
    return source


def get(session: Session, source_id: int, lock: bool = False) -> Source | None:
    # The lock orders a deletion and the background read of the same source (PostgreSQL).
    return session.get(Source, source_id, with_for_update=lock or None, populate_existing=lock)


def topic_sources(session: Session, topic_id: int, removed: bool = False) -> list[Source]:
    """The topic's sources in the order added; `removed` includes the deleted ones."""
    query = select(Source).where(Source.topic_id == topic_id)
    if not removed:
        query = query.where(Source.status != SourceStatus.REMOVED.value)
    return list(session.scalars(query.order_by(Source.id)))


def delete_passages(session: Session, source_id: int) -> int:
    """The source's passages and every card citation of them (the cards themselves stay)."""
    passages = select(Passage.id).where(Passage.source_id == source_id)
    session.execute(delete(CardCitation).where(CardCitation.passage_id.in_(passages)))
    result = session.execute(delete(Passage).where(Passage.source_id == source_id))
    return result.rowcount or 0


def usage(session: Session, user_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    """(bytes, pages) the ledger holds for the learner's sources accepted in [start, end)."""
    row = session.execute(
        select(
            func.coalesce(func.sum(SourceUsage.size_bytes), 0),
            func.coalesce(func.sum(SourceUsage.pages), 0),
        ).where(
            SourceUsage.user_id == user_id,
            SourceUsage.created_at >= start,
            SourceUsage.created_at < end,
        )
    ).one()
    return int(row[0]), int(row[1])


def add_usage(session: Session, row: SourceUsage) -> None:
    session.add(row)
    session.flush()


def _usage_of(source_id: int):
    # The newest row of the id: an older one is a source deleted with its topic whose id
    # SQLite handed out again.
    newest = select(func.max(SourceUsage.id)).where(SourceUsage.source_id == source_id)
    return SourceUsage.id == newest.scalar_subquery()


def set_usage(session: Session, source_id: int, **values: int) -> None:
    """Set the source's counted `size_bytes` and/or `pages`."""
    session.execute(update(SourceUsage).where(_usage_of(source_id)).values(**values))


def drop_usage(session: Session, source_id: int) -> None:
    """The source was not accepted after all (unreadable, or past the limits): it counts nothing."""
    session.execute(delete(SourceUsage).where(_usage_of(source_id)))


def unfinished(session: Session, topic_id: int) -> bool:
    found = session.scalar(
        select(Source.id).where(Source.topic_id == topic_id, Source.status.in_(UNFINISHED)).limit(1)
    )
    return found is not None


def fail_unfinished(session: Session, message: str, now: datetime) -> int:
    """Mark every unfinished source failed (their reads died with the server); like any failed
    source, they count nothing."""
    ids = list(session.scalars(select(Source.id).where(Source.status.in_(UNFINISHED))))
    for source_id in ids:
        drop_usage(session, source_id)
    if ids:
        session.execute(
            update(Source)
            .where(Source.id.in_(ids))
            .values(status=SourceStatus.FAILED.value, error=message, finished_at=now)
        )
    return len(ids)


def add_passages(session: Session, passages: Sequence[Passage]) -> None:
    session.add_all(passages)
    session.flush()


def has_passages(session: Session, topic_id: int) -> bool:
    return topic_id in topics_with_passages(session, [topic_id])


# SQLite allows 500 terms in a compound SELECT; a page may list 500 topics.
_PROBES_A_STATEMENT = 250


def topics_with_passages(session: Session, topic_ids: list[int]) -> set[int]:
    """Of the topics, those with a passage: one probe of the topic's index each (a DISTINCT
    over the passages would read every passage of a large source)."""
    found: set[int] = set()
    for at in range(0, len(topic_ids), _PROBES_A_STATEMENT):
        probes = [
            select(literal(topic_id)).where(exists().where(Passage.topic_id == topic_id))
            for topic_id in topic_ids[at : at + _PROBES_A_STATEMENT]
        ]
        found.update(session.scalars(union_all(*probes)))
    return found


def job_passages(session: Session, job_id: int) -> list[Passage]:
    return list(
        session.scalars(
            select(Passage)
            .where(Passage.job_id == job_id)
            .order_by(Passage.source_id, Passage.position)
        )
    )


def next_passages(session: Session, topic_id: int, limit: int) -> list[Passage]:
    """The topic's least-worked passages, in reading order (sources in the order added)."""
    lowest = select(func.min(Passage.rounds)).where(Passage.topic_id == topic_id).scalar_subquery()
    return list(
        session.scalars(
            select(Passage)
            .where(Passage.topic_id == topic_id, Passage.rounds == lowest)
            .order_by(Passage.source_id, Passage.position)
            .limit(limit)
        )
    )


def finish_job(session: Session, job_id: int) -> int:
    """The batch is over: its passages count one more round and are free again."""
    result = session.execute(
        update(Passage)
        .where(Passage.job_id == job_id)
        .values(rounds=Passage.rounds + 1, job_id=None)
    )
    return result.rowcount or 0


def passage_counts(session: Session, source_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """source id -> (passages, passages worked on at least once)."""
    rows = session.execute(
        select(
            Passage.source_id,
            func.count(),
            func.sum(case((Passage.rounds > 0, 1), else_=0)),
        )
        .where(Passage.source_id.in_(source_ids))
        .group_by(Passage.source_id)
    )
    return {source_id: (int(total), int(covered or 0)) for source_id, total, covered in rows}


def get_passage(session: Session, passage_id: int, share: bool = False) -> Passage | None:
    # `share` keeps the passage from being deleted until the caller's transaction ends.
    return session.get(Passage, passage_id, with_for_update={"read": True} if share else None)


def add_citation(session: Session, citation: CardCitation) -> None:
    session.add(citation)
    session.flush()


def citation(session: Session, card_id: int) -> CardCitation | None:
    return session.get(CardCitation, card_id)


def source_passages(session: Session, source_id: int) -> list[Passage]:
    return list(
        session.scalars(
            select(Passage).where(Passage.source_id == source_id).order_by(Passage.position)
        )
    )


def user_sources(session: Session, user_id: int) -> list[Source]:
    return list(
        session.scalars(select(Source).where(Source.user_id == user_id).order_by(Source.id))
    )


def user_source_usage(session: Session, user_id: int) -> list[SourceUsage]:
    """The learner's usage ledger, deleted sources' rows included (deleting refunds nothing)."""
    return list(
        session.scalars(
            select(SourceUsage).where(SourceUsage.user_id == user_id).order_by(SourceUsage.id)
        )
    )


def user_passages(session: Session, user_id: int) -> list[Passage]:
    mine = select(Source.id).where(Source.user_id == user_id)
    return list(
        session.scalars(
            select(Passage)
            .where(Passage.source_id.in_(mine))
            .order_by(Passage.source_id, Passage.position)
        )
    )


def user_citations(session: Session, user_id: int) -> list[CardCitation]:
    mine = select(Passage.id).where(
        Passage.source_id.in_(select(Source.id).where(Source.user_id == user_id))
    )
    return list(
        session.scalars(
            select(CardCitation)
            .where(CardCitation.passage_id.in_(mine))
            .order_by(CardCitation.card_id)
        )
    )
