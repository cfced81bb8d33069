"""Turn rows into the API's shapes (a topic with its counts and generation state, a card)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.generation import pace
from srs.generation import service as generation
from srs.generation.difficulty import batch_level
from srs.llm.local import notice_for
from srs.outline.schemas import SubtopicRef
from srs.sources.service import citation_ref, grounded_of
from srs.study import service as study
from srs.study.schemas import NextOut, StudyCardOut
from srs.topics.models import Card, GenerationStatus, Topic
from srs.topics.schemas import CardOut, Counts, Generation, TopicOut


def card_out(card: Card) -> CardOut:
    return CardOut(
        id=card.id,
        topic_id=card.topic_id,
        front=card.front,
        back=card.back,
        extra=card.extra or None,
        type=card.type,
        text=card.cloze_text,
        cloze_ordinal=card.cloze_ordinal,
        state=study.card_state_name(card),
        due=card.due,
        level=card.level,
        model=card.model,
        subtopic=SubtopicRef(id=card.subtopic.id, name=card.subtopic.name)
        if card.subtopic
        else None,
        source=citation_ref(card.citation),
        model_notice=notice_for(card.model),
        reps=card.reps,
        lapses=card.lapses,
        leech=card.leech,
        suspended=card.suspended,
        retired_reason=card.retired_reason,
        buried_until=card.buried_until,
        flag_reason=card.flag_reason,
        created_at=card.created_at,
    )


def counts_out(counts: study.Counts) -> Counts:
    return Counts(
        new=counts.new, learning=counts.learning, review=counts.review, ready=counts.ready
    )


def generation_out(
    session: Session,
    topic: Topic,
    now: datetime,
    *,
    with_eta: bool,
    seen: generation.Activity | None = None,
) -> Generation:
    """What generation is doing for the topic; `seen`: as this transaction already read it (the
    study step's buffer check, a topic list's one read), else read here. The ETA only for a
    learner out of cards."""
    activity = seen if seen is not None else generation.activities_of(session, [topic.id])[topic.id]
    job = activity.job
    return Generation(
        status=GenerationStatus(topic.generation_status),
        error=topic.generation_error,
        cards_in_flight=activity.cards_in_flight,
        step=job.kind if job else None,  # type: ignore[arg-type]
        eta_seconds=pace.eta_seconds(session, job, now) if with_eta else None,
    )


def next_out(
    session: Session,
    user: User,
    topic: Topic,
    now: datetime,
    new_per_day: int,
    seen: generation.Activity | None = None,
) -> NextOut:
    """The study screen's next step: the card, the counts, and what generation is doing
    (`seen`: the topic's batch as the answer's buffer check left it, so it is read once)."""
    found = study.next_card(session, user, topic, now, new_per_day)
    card = None
    if found.card is not None:
        card = StudyCardOut(**card_out(found.card).model_dump(), intervals=found.intervals)
    return NextOut(
        card=card,
        counts=counts_out(found.counts),
        generation=generation_out(session, topic, now, with_eta=card is None, seen=seen),
        next_due=found.next_due,
        new_limit_reached=found.new_limit_reached,
        # The study header's level line, so a step needs no GET /topics/{id} beside it.
        level=batch_level(topic.level),
        recent_success=(topic.difficulty_state or {}).get("recent_success"),
    )


def topic_out(
    session: Session, user: User, topic: Topic, now: datetime, new_per_day: int
) -> TopicOut:
    return topics_out(session, user, [topic], now, new_per_day)[0]


def topics_out(
    session: Session, user: User, topics: list[Topic], now: datetime, new_per_day: int
) -> list[TopicOut]:
    """Topics with their counts and generation state, in three reads however many topics (and
    the ETA of any out of cards with a batch under way)."""
    counts = study.counts_of(session, user, topics, now, new_per_day)
    activities = generation.activities_of(session, [topic.id for topic in topics])
    # The sources are read only for the topics on the default verification switch.
    grounded = grounded_of(session, [t.id for t in topics if t.verify_cards is None])
    return [
        _topic_out(
            topic,
            counts[topic.id],
            study.new_limit(topic, new_per_day),
            topic.verifies(topic.id in grounded),
            generation_out(
                session, topic, now, with_eta=counts[topic.id].ready == 0, seen=activities[topic.id]
            ),
        )
        for topic in topics
    ]


def _topic_out(
    topic: Topic, counts: study.Counts, new_limit: int, verifies: bool, state: Generation
) -> TopicOut:
    difficulty = topic.difficulty_state or {}
    return TopicOut(
        id=topic.id,
        title=topic.title,
        prompt=topic.prompt,
        level=batch_level(topic.level),
        level_estimate=round(topic.level, 3),
        recent_success=difficulty.get("recent_success"),
        new_per_day=new_limit,
        new_per_day_override=topic.new_per_day,
        generation_enabled=topic.generation_enabled,
        card_style=topic.card_style,
        verify_cards=verifies,
        verify_cards_override=topic.verify_cards,
        archived=topic.archived_at is not None,
        archived_at=topic.archived_at,
        counts=counts_out(counts),
        generation=state,
        created_at=topic.created_at,
        last_studied_at=topic.last_studied_at,
    )
