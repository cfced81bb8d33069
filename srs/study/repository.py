"""Every query the study loop needs: what is due, what is new, what was answered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, contains_eager

from srs.kit.db import write_now
from srs.sources.models import CardCitation
from srs.study.models import ReviewLog
from srs.topics.models import Card, Topic, TopicCardCount

LEARNING_STATES = (1, 3)
REVIEW_STATE = 2


def _studyable(topic_id: int | ColumnElement[int], now: datetime) -> ColumnElement[bool]:
    # `suspended = false`, as the partial indexes spell it (see Card's indexes).
    return and_(
        Card.topic_id == topic_id,
        Card.suspended == false(),
        or_(Card.buried_until.is_(None), Card.buried_until <= now),
    )


def _seen(topic_id: int | ColumnElement[int], now: datetime) -> ColumnElement[bool]:
    """Cards answered at least once: ix_cards_queue_seen, in (due, id) order."""
    return and_(_studyable(topic_id, now), Card.last_review.is_not(None))


def _unseen(topic_id: int, now: datetime) -> ColumnElement[bool]:
    """Cards never answered: ix_cards_queue_unseen, in id order."""
    return and_(_studyable(topic_id, now), Card.last_review.is_(None))


@dataclass(frozen=True)
class QueueRead:
    """A topic's queue as one statement read it: the counts and the next card to show."""

    learning: int  # learning and relearning cards due now
    review: int  # review cards due now
    unseen: int  # cards never answered, not suspended, not buried now
    new_studied: int  # new cards first answered since `day_start`
    card: Card | None  # the first due card, else the first new one within the limit
    next_due: datetime | None  # when the first seen card falls due (queue order)


def next_in_queue(
    session: Session, topic_id: int, now: datetime, day_start: datetime, new_limit: int
) -> QueueRead:
    """The study queue in one round trip: each part is a scalar subquery over its own index
    (the due range of ix_cards_queue_seen, the first entry of ix_cards_queue_unseen, the kept
    counter, ix_review_logs_topic_new), and the chosen card is joined with its subtopic and
    its citation, so showing it reads nothing more."""
    params = {"topic_id": topic_id, "now": now, "day_start": day_start, "new_limit": new_limit}
    row = session.execute(_queue_statement(), params).one()
    return QueueRead(
        learning=int(row.learning or 0),
        review=int(row.review or 0),
        unseen=int(row.unseen or 0),
        new_studied=int(row.new_studied or 0),
        card=row.Card,
        next_due=row.next_due,
    )


@cache
def _queue_statement() -> Select:
    """next_in_queue's statement, built once: building it took longer than running it."""
    topic_id, now = bindparam("topic_id"), bindparam("now")
    due = (
        select(
            func.count().filter(Card.state.in_(LEARNING_STATES)).label("learning"),
            func.count().filter(Card.state == REVIEW_STATE).label("review"),
        )
        .where(_seen(topic_id, now), Card.due <= now)
        .subquery("due_now")
    )
    first_due = (
        select(Card.id)
        .where(_seen(topic_id, now), Card.due <= now)
        .order_by(Card.due, Card.id)
        .limit(1)
    )
    first_new = select(Card.id).where(_unseen(topic_id, now)).order_by(Card.id).limit(1)
    # The first entry in queue order rather than min(): SQLite's min() would read the range.
    next_due = select(Card.due).where(_seen(topic_id, now)).order_by(Card.due, Card.id).limit(1)
    queue = (
        select(
            due.c.learning,
            due.c.review,
            _unseen_ready(topic_id, now).label("unseen"),
            _new_studied(topic_id, bindparam("day_start")).label("new_studied"),
            first_due.scalar_subquery().label("due_id"),
            first_new.scalar_subquery().label("new_id"),
            next_due.scalar_subquery().label("next_due"),
        )
        .cte("queue")
        .prefix_with("MATERIALIZED")  # SQLite would inline it: each part read twice
    )
    # Due cards first; a new card only while the day's limit leaves one and one is ready.
    chosen = case(
        (queue.c.due_id.is_not(None), queue.c.due_id),
        (
            and_(queue.c.new_studied < bindparam("new_limit"), queue.c.unseen > 0),
            queue.c.new_id,
        ),
        else_=null(),
    )
    return (
        select(
            queue.c.learning,
            queue.c.review,
            queue.c.unseen,
            queue.c.new_studied,
            queue.c.next_due,
            Card,
        )
        .select_from(queue)
        .outerjoin(Card, Card.id == chosen)
        .outerjoin(Card.subtopic)
        .outerjoin(Card.citation)
        .outerjoin(CardCitation.passage)
        .options(
            contains_eager(Card.subtopic),
            contains_eager(Card.citation).contains_eager(CardCitation.passage),
        )
    )


def _unseen_ready(topic_id: int | ColumnElement[int], now: datetime) -> ScalarSelect[int]:
    """Unseen cards not buried: the kept count less the few buried now (ix_cards_buried_unseen)."""
    # Correlated to the topics of counts_of's outer query, two levels up (implicit
    # correlation reaches the enclosing select only).
    kept = (
        select(TopicCardCount.unseen)
        .where(TopicCardCount.topic_id == topic_id)
        .correlate_except(TopicCardCount)
    )
    buried = (
        select(func.count())
        .where(
            Card.topic_id == topic_id,
            Card.buried_until.is_not(None),
            Card.buried_until > now,
            Card.last_review.is_(None),
            Card.suspended == false(),
        )
        .correlate_except(Card)
    )
    return select(
        func.coalesce(kept.scalar_subquery(), 0) - buried.scalar_subquery()
    ).scalar_subquery()


def _new_studied(topic_id: int | ColumnElement[int], since: datetime) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(ReviewLog)
        .where(
            ReviewLog.topic_id == topic_id,
            ReviewLog.first_attempt == true(),  # as ix_review_logs_topic_new spells it
            ReviewLog.reviewed_at >= since,
        )
        .scalar_subquery()
    )


def counts_of(
    session: Session, topic_ids: list[int], now: datetime, since: datetime
) -> dict[int, tuple[int, int, int, int]]:
    """Per topic, (learning due, review due, unseen, new studied since `since`), for any number
    of topics in one statement (a topic list costs no read a topic). Each count is a subquery
    correlated to its topic, so it runs on the same index as for one: the due ones in the queue
    index over the due range only; the unseen ones kept by triggers (migration 0011), so no
    count reads the whole deck."""
    due = select(func.count()).where(_seen(Topic.id, now), Card.due <= now)
    rows = session.execute(
        select(
            Topic.id,
            due.where(Card.state.in_(LEARNING_STATES)).scalar_subquery(),
            due.where(Card.state == REVIEW_STATE).scalar_subquery(),
            _unseen_ready(Topic.id, now),
            _new_studied(Topic.id, since),
        ).where(Topic.id.in_(topic_ids))
    )
    return {row[0]: (int(row[1]), int(row[2]), int(row[3] or 0), int(row[4])) for row in rows}


def ever_answered_well(session: Session, card_id: int) -> bool:
    """Whether the card was ever answered Good or Easy."""
    return (
        session.scalar(
            select(ReviewLog.id).where(ReviewLog.card_id == card_id, ReviewLog.rating >= 3).limit(1)
        )
        is not None
    )


def write_answer(session: Session, log: ReviewLog, card: Card, topic: Topic) -> None:
    """An answer's three writes, now, as Core (see kit.db.write_now: one statement on
    PostgreSQL): the log, the card's new schedule, the topic's level and last study time."""
    write_now(session, log, card, topic)


def last_log(session: Session, user_id: int, topic_id: int) -> ReviewLog | None:
    return session.scalar(
        select(ReviewLog)
        .where(ReviewLog.user_id == user_id, ReviewLog.topic_id == topic_id)
        .order_by(ReviewLog.reviewed_at.desc(), ReviewLog.id.desc())
        .limit(1)
    )


def delete_log(session: Session, log: ReviewLog) -> None:
    session.delete(log)
    session.flush()


def user_review_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(ReviewLog).where(ReviewLog.user_id == user_id)
        )
        or 0
    )


def user_reviews(session: Session, user_id: int) -> list[tuple[int, int, datetime]]:
    rows = session.execute(
        select(ReviewLog.card_id, ReviewLog.rating, ReviewLog.reviewed_at)
        .where(ReviewLog.user_id == user_id)
        .order_by(ReviewLog.reviewed_at, ReviewLog.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def iter_user_logs(session: Session, user_id: int, batch: int = 1000) -> Iterator[ReviewLog]:
    """Every review of the user, oldest first, read `batch` rows at a time."""
    query = (
        select(ReviewLog)
        .where(ReviewLog.user_id == user_id)
        .order_by(ReviewLog.id)
        .execution_options(yield_per=batch)
    )
    yield from session.scalars(query)


def topic_logs(session: Session, topic_id: int) -> list[ReviewLog]:
    return list(
        session.scalars(
            select(ReviewLog)
            .where(ReviewLog.topic_id == topic_id)
            .order_by(ReviewLog.reviewed_at, ReviewLog.id)
        )
    )


LOG_COLUMNS = (
    "card_id",
    "topic_id",
    "user_id",
    "rating",
    "reviewed_at",
    "duration_ms",
    "first_attempt",
    "card_before",
)
# How SQLAlchemy's DateTime stores a (naive UTC) moment in SQLite, so reads parse it as usual.
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def add_logs_bulk(session: Session, rows: list[tuple]) -> None:
    """Many logs (tuples in LOG_COLUMNS order, `card_before` as JSON text) straight to the
    driver: COPY on PostgreSQL, one executemany on SQLite. SQLAlchemy's per-row parameter
    handling, and on PostgreSQL a round trip per row, were most of a 200,000-answer import."""
    if not rows:
        return
    connection = session.connection()
    columns = ", ".join(LOG_COLUMNS)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.dbapi_connection
        copy_in = f"COPY {ReviewLog.__tablename__} ({columns}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(copy_in) as copy:
            for row in rows:
                copy.write_row(row)
        return
    at = LOG_COLUMNS.index("reviewed_at")
    rows = [
        (*row[:at], row[at].astimezone(UTC).strftime(_SQLITE_DATETIME), *row[at + 1 :])
        for row in rows
    ]
    marks = ", ".join("?" * len(LOG_COLUMNS))
    connection.exec_driver_sql(
        f"INSERT INTO {ReviewLog.__tablename__} ({columns}) VALUES ({marks})", rows
    )


def recent_review_times(session: Session, topic_id: int, limit: int) -> list[datetime]:
    return list(
        session.scalars(
            select(ReviewLog.reviewed_at)
            .where(ReviewLog.topic_id == topic_id)
            .order_by(ReviewLog.reviewed_at.desc())
            .limit(limit)
        )
    )


def card_to_answer(
    session: Session, user_id: int, card_id: int, review_id: str | None, recent: int
) -> tuple[Card, Topic, int | None, list[datetime]] | None:
    """The learner's card with its subtopic and citation, its topic, the card id of the answer
    already saved under `review_id` (None: none), and when the topic's `recent` latest answers
    were given (the learner's pace, for the refill), in one statement and one row.
    The card and the topic stay locked until commit: a repeat of this answer waits for the
    first, and the topic's difficulty state is rewritten from this read."""
    params = {"user_id": user_id, "card_id": card_id}
    if review_id is not None:
        params["review_id"] = review_id
    row = session.execute(_answer_statement(review_id is not None, recent), params).first()
    if row is None:
        return None
    card, topic, answered, times = row
    return card, topic, answered, _moments(times)


def _moments(joined: str | None) -> list[datetime]:
    """Timestamps as the database wrote them as text, comma-joined: PostgreSQL's with their
    offset, SQLite's naive UTC (see kit.db.UTCDateTime)."""
    if not joined:
        return []
    moments = (datetime.fromisoformat(text) for text in joined.split(","))
    return [m.astimezone(UTC) if m.tzinfo else m.replace(tzinfo=UTC) for m in moments]


@cache
def _answer_statement(with_review_id: bool, recent: int) -> Select:
    """card_to_answer's statement, built once per shape. The latest answer times come joined
    into one text: a row per answer had the ORM load the card and the topic again for each
    (an eighth of a study step's CPU, py-spy, session 13)."""
    user_id, card_id = bindparam("user_id"), bindparam("card_id")
    answered = (
        select(ReviewLog.card_id)
        .where(ReviewLog.user_id == user_id, ReviewLog.review_id == bindparam("review_id"))
        .scalar_subquery()
        if with_review_id
        else null()
    )
    card_topic = select(Card.topic_id).where(Card.id == card_id).scalar_subquery()
    latest = (
        select(ReviewLog.reviewed_at.label("reviewed_at"))
        .where(ReviewLog.topic_id == card_topic)  # ix_review_logs_topic_time, newest first
        .order_by(ReviewLog.reviewed_at.desc())
        .limit(recent)
        .subquery("latest")
    )
    times = select(func.aggregate_strings(cast(latest.c.reviewed_at, String), ","))
    return (
        select(Card, Topic, answered, times.scalar_subquery())
        .join(Topic, Topic.id == Card.topic_id)
        .outerjoin(Card.subtopic)
        .outerjoin(Card.citation)
        .outerjoin(CardCitation.passage)
        .options(
            contains_eager(Card.subtopic),
            contains_eager(Card.citation).contains_eager(CardCitation.passage),
        )
        .where(Card.id == card_id, Card.user_id == user_id)
        .with_for_update(of=(Card, Topic))
        # A locked read must see the rows as they are now, not as this session first saw them.
        .execution_options(populate_existing=True)
    )
