"""Topics (decks) and the cards in them: creation, renaming, hand-written cards."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit.db import utcnow
from srs.kit.errors import invalid, not_found
from srs.kit.pagination import Page, PageRequest, decode_cursor, page_of
from srs.kit.settings import Settings
from srs.metering import service as metering
from srs.topics import cloze, repository
from srs.topics.models import Card, Topic
from srs.topics.repository import CardQuery
from srs.topics.schemas import BulkIn, CardIn, CardPatch, TopicIn, TopicPatch

TITLE_CHARS = 80


def title_from_prompt(prompt: str) -> str:
    first_line = prompt.strip().splitlines()[0].strip()
    if len(first_line) <= TITLE_CHARS:
        return first_line
    return first_line[: TITLE_CHARS - 1].rstrip() + "…"


def create_topic(session: Session, user: User, data: TopicIn) -> Topic:
    topic = Topic(
        user_id=user.id,
        title=title_from_prompt(data.prompt),
        prompt=data.prompt,
        card_style=data.card_style.value,
    )
    repository.add(session, topic)
    return topic


def get_topic(session: Session, user: User, topic_id: int, *, lock: bool = False) -> Topic:
    topic = repository.get_topic(session, user.id, topic_id, lock=lock)
    if topic is None:
        raise not_found("Topic not found")
    return topic


def list_topics(session: Session, user: User) -> list[Topic]:
    return repository.list_topics(session, user.id)


def topics_page(session: Session, user: User, paging: PageRequest) -> Page[Topic]:
    before = decode_cursor("topics", paging.cursor)
    rows = repository.topics_page(session, user.id, before, paging.limit)
    return page_of(rows, paging.limit, "topics", lambda topic: topic.id)


def update_topic(session: Session, user: User, topic_id: int, patch: TopicPatch) -> Topic:
    """Rename, set the topic's own daily new-card limit (null: the learner's default), turn
    generation on or off (the caller then settles the topic's generation), turn the
    verification pass on or off (null: the default)."""
    topic = get_topic(session, user, topic_id, lock=True)
    if patch.title is not None:
        topic.title = patch.title
    if "new_per_day" in patch.model_fields_set:
        topic.new_per_day = patch.new_per_day
    if patch.generation_enabled is not None:
        topic.generation_enabled = patch.generation_enabled
    if patch.card_style is not None:
        topic.card_style = patch.card_style.value  # batches asked from now on
    if "verify_cards" in patch.model_fields_set:
        topic.verify_cards = patch.verify_cards  # null: back to the default
    topic.updated_at = utcnow()
    session.flush()
    return topic


def archive_topic(session: Session, user: User, topic_id: int) -> Topic:
    """Keeps the cards; frees an active-topic slot. Idempotent."""
    topic = get_topic(session, user, topic_id, lock=True)
    if topic.archived_at is None:
        topic.archived_at = utcnow()
        topic.updated_at = topic.archived_at
        session.flush()
    return topic


def unarchive_topic(session: Session, settings: Settings, user: User, topic_id: int) -> Topic:
    """Takes an active-topic slot again: 402 quota_exceeded when the plan has none free."""
    topic = get_topic(session, user, topic_id, lock=True)
    if topic.archived_at is not None:
        metering.ensure_topic_allowed(
            session, settings, user, wanted=f"make “{topic.title}” active again"
        )
        topic.archived_at = None
        topic.updated_at = utcnow()
        session.flush()
    return topic


def delete_topic(session: Session, user: User, topic_id: int) -> None:
    """The topic goes with its cards and batches; the cards its batches still held go back
    to the quota in this same transaction, so the learner sees them free at once."""
    topic = get_topic(session, user, topic_id)
    metering.release_topic(session, topic.id)
    repository.delete(session, topic)


def get_card(session: Session, user: User, card_id: int, *, lock: bool = False) -> Card:
    card = repository.get_card(session, user.id, card_id, lock=lock)
    if card is None:
        raise not_found("Card not found")
    return card


def parse_cloze(text: str) -> cloze.ClozeNote:
    """A cloze text checked, or a 422 that says what is wrong with it."""
    try:
        return cloze.parse(text)
    except cloze.ClozeError as error:
        raise invalid(f"The cloze text is not usable: {error}.") from None


def cloze_card_rows(note: cloze.ClozeNote, note_guid: str) -> list[dict]:
    """The columns each card of a cloze note gets: one card per deletion number."""
    return [
        {
            "front": note.front(number),
            "back": note.back(),
            "cloze_text": note.text,
            "cloze_ordinal": number,
            "note_guid": note_guid,
        }
        for number in note.ordinals
    ]


def add_manual_card(session: Session, user: User, topic_id: int, data: CardIn) -> Card:
    """A basic card, or a cloze note's cards (answering the first: its siblings follow it)."""
    topic = get_topic(session, user, topic_id)
    if data.text is None:
        card = Card(
            topic_id=topic.id, user_id=user.id, front=data.front, back=data.back, due=utcnow()
        )
        repository.add(session, card)
        return card
    note = parse_cloze(data.text)
    cards = [
        Card(topic_id=topic.id, user_id=user.id, due=utcnow(), **row)
        for row in cloze_card_rows(note, uuid.uuid4().hex)
    ]
    for card in cards:
        repository.add(session, card)
    return cards[0]


def edit_card(session: Session, user: User, card_id: int, patch: CardPatch) -> Card:
    """A basic card's front or back; a cloze card's text, which all its note's cards share."""
    card = get_card(session, user, card_id)
    if card.cloze_text is not None:
        if patch.front is not None or patch.back is not None:
            raise invalid("A cloze card's question and answer come from its text: send text.")
        if patch.text is not None:
            _edit_cloze_note(session, card, patch.text)
        return card
    if patch.text is not None:
        raise invalid("Only a cloze card has a text: send front or back.")
    if patch.front is not None:
        card.front = patch.front
    if patch.back is not None:
        card.back = patch.back
    card.updated_at = utcnow()
    session.flush()
    return card


def _edit_cloze_note(session: Session, card: Card, text: str) -> None:
    """New wording for every card of the note. Each deletion number keeps its card and its
    schedule; a new number adds a card (as Anki does); dropping one is refused."""
    note = parse_cloze(text)
    siblings = (
        repository.note_cards(session, card.topic_id, card.note_guid) if card.note_guid else [card]
    )
    numbers = {sibling.cloze_ordinal for sibling in siblings}
    if lost := sorted(numbers - set(note.ordinals)):
        gone = ", ".join(f"c{n}" for n in lost)
        raise invalid(f"The new text drops {gone}, which has a card: delete that card instead.")
    now = utcnow()
    for sibling in siblings:
        sibling.cloze_text = note.text
        sibling.front = note.front(sibling.cloze_ordinal)
        sibling.back = note.back()
        sibling.updated_at = now
    card.note_guid = card.note_guid or uuid.uuid4().hex
    for row in cloze_card_rows(note, card.note_guid):
        if row["cloze_ordinal"] not in numbers:
            repository.add(session, Card(topic_id=card.topic_id, user_id=card.user_id, due=now, **row))
    session.flush()


def delete_card(session: Session, user: User, card_id: int) -> None:
    repository.delete(session, get_card(session, user, card_id))


def topic_cards(session: Session, topic: Topic) -> list[Card]:
    return repository.topic_cards(session, topic.id)


def cards_page(
    session: Session,
    user: User,
    paging: PageRequest,
    *,
    topic_id: int | None = None,
    text: str | None = None,
    state: str | None = None,
) -> Page[Card]:
    """The learner's cards, oldest first, in one topic or across all; `text` is looked for in
    front and back whatever the case, `state` as in schemas.CardFilter."""
    if topic_id is not None:
        get_topic(session, user, topic_id)  # 404 for a topic that is not theirs
    after = decode_cursor("cards", paging.cursor)
    query = CardQuery(user_id=user.id, topic_id=topic_id, text=text or None, state=state)
    rows = repository.cards_page(session, query, after, paging.limit)
    return page_of(rows, paging.limit, "cards", lambda card: card.id)


def bulk_change(session: Session, user: User, bulk: BulkIn) -> int:
    """All or nothing: a single id that is not the learner's card changes nothing (404)."""
    ids = sorted(set(bulk.ids))
    owned = repository.owned_card_ids(session, user.id, ids)
    if len(owned) != len(ids):
        missing = len(ids) - len(owned)
        raise not_found(f"{missing} of these cards were not found; nothing was changed")
    if bulk.action == "delete":
        repository.delete_cards(session, ids)
    else:
        repository.set_suspended(session, ids, bulk.action == "suspend")
    session.expire_all()  # cards loaded earlier in this session were changed behind the ORM
    return len(ids)


def add_generated_card(session: Session, card: Card) -> None:
    """A card the generation worker wrote (its id is needed at once: billing keys it)."""
    repository.add(session, card)


def restore_generated_card(session: Session, card: Card) -> Card:
    """A generated card the verification pass held back, which the learner restored: a new
    card in the study queue like any other."""
    repository.add(session, card)
    return card


def add_imported_topic(session: Session, user: User, title: str, prompt: str) -> Topic:
    """A topic made by an import: no batch is queued, and it counts toward the plan's topic
    limit only once it generates."""
    topic = Topic(user_id=user.id, title=title[:200], prompt=prompt[:500], imported=True)
    repository.add(session, topic)
    return topic


def add_imported_cards(session: Session, topic: Topic, cards: list[dict]) -> list[int]:
    """Cards brought in by an import (not generated: no model, no job, never billed). Each
    dict holds front, back and the scheduling columns."""
    now = utcnow()
    rows = [
        {
            **card,
            "topic_id": topic.id,
            "user_id": topic.user_id,
            "created_at": now,
            "updated_at": now,
        }
        for card in cards
    ]
    return repository.add_cards_bulk(session, rows)


def cards_per_subtopic(
    session: Session, topic_id: int, levels: tuple[int, int] | None = None
) -> dict[int, int]:
    return repository.cards_per_subtopic(session, topic_id, levels)


def subtopic_cards(session: Session, subtopic_id: int, limit: int) -> list[tuple[str, str]]:
    return repository.subtopic_cards(session, subtopic_id, limit)


def unassigned_cards(session: Session, topic_id: int, limit: int) -> list[tuple[str, str]]:
    return repository.unassigned_cards(session, topic_id, limit)


# -- a leech rewritten (srs/rewrites) ---------------------------------------------------------


def reword_card(session: Session, card: Card, front: str, back: str) -> Card:
    """New text for the same card: its schedule and review history stay, and its leech count
    starts again. A cloze card becomes a basic card (it leaves its note; the siblings keep it)."""
    card.front, card.back = front, back
    card.cloze_text = card.cloze_ordinal = card.note_guid = None
    card.rewritten_at_lapses = card.lapses
    card.updated_at = utcnow()
    session.flush()
    return card


def retire_card(session: Session, card: Card, reason: str) -> None:
    """Out of study for good, with the reason shown in the card list (unsuspend brings it back)."""
    card.suspended = True
    card.retired_reason = reason
    card.updated_at = utcnow()
    session.flush()


def add_replacement_cards(
    session: Session, card: Card, texts: list[tuple[str, str]], model: str | None
) -> list[Card]:
    """New cards in `card`'s topic and subtopic, at its level, new to the learner."""
    now = utcnow()
    cards = [
        Card(
            topic_id=card.topic_id,
            user_id=card.user_id,
            subtopic_id=card.subtopic_id,
            level=card.level,
            model=model,
            front=front,
            back=back,
            due=now,
        )
        for front, back in texts
    ]
    for new in cards:
        repository.add(session, new)
    return cards
