"""Generation as the rest of the service sees it: asking for batches, keeping each topic's
buffer of unseen cards filled, and the job transitions the worker makes (each one a short
transaction of its own)."""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.embeddings import Embedder
from srs.generation import difficulty, pace, prompts, refill, repository
from srs.generation.dedup import CardText, CardVectors, DedupIndex, Match, Thresholds
from srs.generation.models import (
    CardEmbedding,
    DuplicateRejection,
    GenerationJob,
    HeldCard,
    JobKind,
    JobStatus,
)
from srs.generation.outline_stream import ParsedSubtopic
from srs.generation.verdicts import VerdictLabel
from srs.generation.xml_stream import ParsedCard
from srs.kit import events, metrics
from srs.kit.db import Database, utcnow
from srs.kit.errors import AppError, conflict, not_found
from srs.kit.settings import Settings
from srs.metering import service as metering
from srs.outline import service as outline
from srs.outline.models import NAME_CHARS, Subtopic
from srs.sources import service as sources
from srs.sources.grounding import Citation, PassageRef
from srs.study.models import ReviewLog
from srs.topics import service as topics
from srs.topics.models import Card, GenerationStatus, Topic
from srs.topics.schemas import TopicIn

MAX_ATTEMPTS = 3
MAX_FRUITLESS_BATCHES = 3
# An outline extension waits until this many jobs have run since the last outline job, so an
# extension that found nothing new is not asked for again at once.
EXTENSION_SPACING = 3
# How many of the target subtopic's newest cards a batch's plan reads (the prompt lists fewer).
SUBTOPIC_CARDS_READ = 40
# Of the about six fronts a batch's prompt shows: at most this many held-back cards, and of
# the first batch's cards that name the subtopic.
HELD_LISTED = 2
NAMED_LISTED = 3
# The newest jobs read to tell which subtopics the model has run dry on (about 8 a subtopic).
EXHAUSTION_JOBS_READ = 400
STOPPED = (GenerationStatus.FAILED, GenerationStatus.QUOTA_EXCEEDED)
# Held-back cards (the newest) a batch must not repeat, embedded at its start, under ids no
# card has (the worker's own pending cards use -100_000 and down; few-shot examples -1 down).
HELD_IN_DEDUP = 200
HELD_IDS = -1_000_000
# Cards embedded per step when a deck's vectors are computed at job start; the lease is
# renewed between steps, so a large deck of hand-written cards cannot lose it.
EMBED_CHUNK = 128


@dataclass(frozen=True)
class JobPlan:
    job_id: int
    topic_id: int
    user_id: int
    prompt: str
    level: int
    count: int
    attempt: int
    # The lease this attempt holds the job by: its worker's name and the claim's number, so
    # an attempt whose lease expired is told so even when its own worker claims the job again.
    lease: str = ""
    # Metering's reservation for this batch: its cards are billed against it.
    reservation_key: str | None = None
    kind: JobKind = JobKind.CARDS
    # A card batch: its subtopic (a prompt line) and that subtopic's (front, back), newest first.
    subtopic_id: int | None = None
    subtopic: str | None = None
    subtopic_cards: list[tuple[str, str]] = field(default_factory=list)
    # An outline job: the (name, scope) pairs the outline has (empty: write the first one).
    outline: list[tuple[str, str]] = field(default_factory=list)
    # The topic's CardStyle value: basic, cloze or mixed cards.
    card_style: str = "basic"
    # A grounded batch (the topic has sources): the passages its cards must come from.
    passages: list[PassageRef] = field(default_factory=list)
    # The verification pass judges the batch before any of its cards is shown.
    verify: bool = False
    # The learner has no card ready: the first card is checked on its own, at once, so it
    # arrives early; the rest of the batch in one request after the batch.
    verify_first_alone: bool = False
    # The cards this job saved before (a retried job): a retry's reply that starts over with
    # them is the provider answering the same prompt the same way, not a model looping.
    saved_before: frozenset[int] = frozenset()


class OutcomeKind(enum.StrEnum):
    """How an attempt ended. Every kind but RETRY is also the job's final status."""

    DONE = JobStatus.DONE.value
    RETRY = "retry"  # back to queued, after a delay
    FAILED = JobStatus.FAILED.value
    QUOTA_EXCEEDED = JobStatus.QUOTA_EXCEEDED.value


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: done, retry (with a delay) or failed; `error` is for the learner."""

    kind: OutcomeKind
    error: str | None = None
    retry_after: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_estimated: bool = False  # the provider sent no usage: the worker estimated it
    duplicates: int = 0
    invalid: int = 0
    model: str | None = None


def difficulty_of(topic: Topic) -> difficulty.DifficultyState:
    if topic.difficulty_state:
        return difficulty.DifficultyState(**topic.difficulty_state)
    return difficulty.DifficultyState(level=topic.level)


def _store_difficulty(topic: Topic, state: difficulty.DifficultyState) -> None:
    topic.difficulty_state = asdict(state)
    topic.level = state.level


# Extra elements a card may carry from the LLM. Anything else is dropped, so a reply steered
# by a hostile topic cannot park arbitrary text (say, our system prompt) in card metadata.
KEPT_EXTRAS = frozenset({"explanation", "concept", "difficulty", "example"})


def kept_extras(extra: dict[str, str]) -> dict[str, str] | None:
    return {k: v for k, v in extra.items() if k in KEPT_EXTRAS} or None


def embed_cards(embedder: Embedder, texts: Sequence[CardText]) -> list[CardVectors]:
    """Blocking: each card's vectors (front and back together, and the back alone)."""
    if not texts:
        return []
    vectors = embedder.embed([t.embedding_text() for t in texts] + [t.back for t in texts])
    n = len(texts)
    return [CardVectors(card=vectors[i], answer=vectors[n + i]) for i in range(n)]


def _to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


def _stored(card_id: int, model: str, vectors: CardVectors) -> CardEmbedding:
    return CardEmbedding(
        card_id=card_id,
        model=model,
        card_vector=_to_bytes(vectors.card),
        answer_vector=_to_bytes(vectors.answer),
    )


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        raise AppError(
            "The cursor is not one this list gave out.", code="invalid_cursor", status_code=422
        ) from None


# The embedded model judging its own cards catches little: the learner is told so plainly.
WEAK_CHECK_NOTICE = (
    "These cards are checked by the small embedded model, which misses many mistakes: the "
    "check is weak. Point the service at a real model (SRS_LLM_PROVIDER, or SRS_VERIFY_MODEL "
    "for the check) for a check worth trusting."
)


def check_notice(settings: Settings) -> str | None:
    """What the learner should know about the verification pass's verifier, if anything."""
    return WEAK_CHECK_NOTICE if settings.llm_provider == "local" else None


def held_cards_of(session: Session, user_id: int) -> list[HeldCard]:
    """Every card the verification pass holds back for the learner (their data export)."""
    return repository.user_held(session, user_id)


def level_of(topic: Topic) -> int:
    return difficulty.level_for_batch(difficulty_of(topic))


def _imported_and_never_generated(session: Session, topic: Topic) -> bool:
    """An imported deck generates only once the learner asks (POST /topics/{id}/generate)."""
    return topic.imported and not repository.has_jobs(session, topic.id)


@dataclass(frozen=True)
class Activity:
    """What a topic's generation is doing, as one read in this transaction saw it: the study
    step's buffer check reads it and the next-card view shows it, without reading it again."""

    job: GenerationJob | None  # the topic's queued or running batch; None: none

    @property
    def cards_in_flight(self) -> int:
        """Cards asked of the LLM and not yet saved (one active job per topic at most)."""
        return self.job.requested - self.job.saved if self.job is not None else 0


def activities_of(session: Session, topic_ids: list[int]) -> dict[int, Activity]:
    """Each topic's activity by its id, in one read however many topics."""
    jobs = repository.active_jobs(session, topic_ids)
    return {topic_id: Activity(jobs.get(topic_id)) for topic_id in topic_ids}


class GenerationService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._wake_workers: list[Callable[[], None]] = []
        self._topic_changed: list[Callable[[int], None]] = []

    # -- wiring ---------------------------------------------------------------------------

    def on_job_queued(self, callback: Callable[[], None]) -> None:
        self._wake_workers.append(callback)

    def on_topic_changed(self, callback: Callable[[int], None]) -> None:
        self._topic_changed.append(callback)

    def _after_commit(self, session: Session, topic_id: int, wake: bool) -> None:
        events.announce(session, topic_id)  # other processes' long-polls, on commit

        def fire(_session: Session) -> None:
            for callback in self._topic_changed:
                callback(topic_id)
            if wake:
                for callback in self._wake_workers:
                    callback()

        event.listen(session, "after_commit", fire, once=True)

    # -- requests from the API ------------------------------------------------------------

    def create_topic(self, session: Session, user: User, data: TopicIn) -> Topic:
        metering.ensure_topic_allowed(session, self.settings, user)
        topic = topics.create_topic(session, user, data)
        self._request_planned(session, topic)
        return topic

    def delete_topic(self, session: Session, user: User, topic_id: int) -> None:
        """Deleting takes its locks in the worker's order (the topic's jobs, then what they
        hold, then the topic), so on PostgreSQL a delete and a batch saving or finishing at
        that moment wait for each other instead of deadlocking."""
        topic = topics.get_topic(session, user, topic_id)
        repository.lock_topic_jobs(session, topic.id)
        topics.delete_topic(session, user, topic.id)

    def cards_in_flight(self, session: Session, topic_id: int) -> int:
        return repository.cards_in_flight(session, topic_id)

    def request_batch(self, session: Session, topic: Topic) -> GenerationJob | None:
        """Queue a batch unless one is already in flight for this topic. With the quota used
        up, no job is queued: the topic shows quota_exceeded until the quota refills."""
        existing = repository.active_job(session, topic.id)
        if existing is not None:
            return existing
        waiting = sources.holds_back(session, topic.id)
        if waiting == sources.NO_SOURCE_READ:
            topic.generation_status, topic.generation_error = GenerationStatus.FAILED, waiting
            return None
        if waiting:
            return None  # its source is being read (it asks for the batch when ready)
        if not topic.generates:
            self._show_paused(topic)
            return None
        user = session.get(User, topic.user_id)
        refused = metering.refusal(session, self.settings, user, utcnow())
        if refused is not None:
            metrics.QUOTA_REFUSALS.inc()
            self._stop_for_quota(topic, refused)
            self._after_commit(session, topic.id, wake=False)
            return None
        job = self._add_unless_active(session, topic, self._next_kind(session, topic))
        if job is None:
            return repository.active_job(session, topic.id)
        topic.generation_status = GenerationStatus.QUEUED
        topic.generation_error = None
        self._after_commit(session, topic.id, wake=True)
        return job

    def _add_unless_active(
        self, session: Session, topic: Topic, kind: JobKind
    ) -> GenerationJob | None:
        """The new job, or None when another transaction queued one first: the partial unique
        index allows one active job per topic, and the savepoint keeps our transaction usable."""
        job = GenerationJob(
            topic_id=topic.id,
            user_id=topic.user_id,
            kind=kind.value,
            # An outline job writes no card: it holds none of the quota (its tokens count).
            requested=self.settings.batch_size if kind is JobKind.CARDS else 0,
            level=level_of(topic),
            run_after=utcnow(),
        )
        try:
            with session.begin_nested():
                return repository.add_job(session, job)
        except IntegrityError:
            if repository.active_job(session, topic.id) is None:
                raise
            return None

    @staticmethod
    def _show_paused(topic: Topic) -> None:
        topic.generation_status = GenerationStatus.PAUSED
        topic.generation_error = None

    def settle(self, session: Session, topic: Topic) -> None:
        """After a topic was archived, unarchived, or its generation turned off or on: cancel
        its queued batches (giving back what they hold of the quota), or resume writing. A
        batch already running finishes; the topic shows paused after it."""
        self._after_commit(session, topic.id, wake=False)
        if topic.generates:
            if topic.generation_status == GenerationStatus.PAUSED:
                topic.generation_status = GenerationStatus.IDLE
            self.ensure_buffer(session, topic)
            return
        for job in repository.queued_jobs(session, topic.id):
            job.status = JobStatus.CANCELLED
            job.finished_at = utcnow()
            metering.release(session, job.reservation_key)
        session.flush()
        if repository.active_job(session, topic.id) is None:
            self._show_paused(topic)

    @staticmethod
    def _next_kind(session: Session, topic: Topic) -> JobKind:
        """A new topic's first batch, then its outline; then cards, until every subtopic is
        well covered at the current level: then an extension of the outline, so the feed goes
        deeper, not round. The first batch comes before the outline so the learner's first card
        does not wait for it: a local model takes 20-30 s to write an outline."""
        if not outline.subtopics(session, topic.id):
            first = not repository.card_batch_done(session, topic.id)
            return JobKind.CARDS if first else JobKind.OUTLINE
        if sources.grounded(session, topic.id):
            return JobKind.CARDS  # its outline is its sources' headings: never extended
        covered = GenerationService._coverage(session, topic.id, level_of(topic)).all_covered
        if covered and not outline.is_full(session, topic.id):
            recent = repository.recent_job_kinds(session, topic.id, EXTENSION_SPACING)
            if JobKind.OUTLINE.value not in recent:
                return JobKind.OUTLINE
        return JobKind.CARDS

    @staticmethod
    def _coverage(session: Session, topic_id: int, level: int) -> outline.Coverage:
        """The outline's coverage, with the subtopics where the model ran dry set aside: a
        small model asked again about a part it has exhausted writes only repeats, and three
        fruitless batches in a row would end the topic's feed."""
        exhausted = repository.exhausted_subtopics(session, topic_id, EXHAUSTION_JOBS_READ)
        return outline.coverage(session, topic_id, level, exhausted)

    @staticmethod
    def _stop_for_quota(topic: Topic, message: str) -> None:
        topic.generation_status = GenerationStatus.QUOTA_EXCEEDED
        topic.generation_error = message

    def retry(self, session: Session, user: User, topic_id: int) -> Topic:
        topic = topics.get_topic(session, user, topic_id, lock=True)
        if not topic.generates:
            if topic.archived_at is not None:
                raise conflict("This topic is archived; unarchive it to get new cards")
            raise conflict("Generation is turned off for this topic; turn it on to get new cards")
        if _imported_and_never_generated(session, topic):  # it starts counting now
            metering.ensure_topic_allowed(session, self.settings, user)
        metering.ensure_can_generate(session, self.settings, user, utcnow())
        topic.fruitless_batches = 0
        if topic.generation_status in STOPPED:
            topic.generation_status = GenerationStatus.IDLE
        self._request_planned(session, topic)
        return topic

    def ensure_buffer(
        self, session: Session, topic: Topic, recent_answers: Sequence[datetime] | None = None
    ) -> Activity | None:
        """Ask for the next batch early enough, and large enough, that this learner at their
        pace does not wait for the provider at its measured speed (refill.py). Returns the
        topic's batch as it left it (None: not read, the topic does not generate now).
        `recent_answers`: the topic's latest answer times, when the caller has read them."""
        if topic.generation_status in STOPPED or _imported_and_never_generated(session, topic):
            return None
        if not topic.generates:
            self._show_paused(topic)
            return None
        # The provider's speed comes with the topic's batch, so a step reads them together.
        job, unseen, timings = repository.activity_and_timings(session, topic.id, pace.RATE_BATCHES)
        if job is not None:
            return Activity(job)  # a batch is under way: one at a time per topic
        if unseen >= refill.highest_point(self.settings.refill_below, self.settings.max_unseen):
            return Activity(None)  # no plan asks for a batch here: its inputs are not read
        plan = pace.planned_refill(
            session,
            self.settings,
            topic,
            utcnow(),
            unseen,
            pace.timings_of(timings),
            recent_answers,
        )
        if plan is None:
            return Activity(None)
        job = self.request_batch(session, topic)
        self._resize(job, plan.size)
        return Activity(job)

    def _request_planned(self, session: Session, topic: Topic) -> None:
        """Ask for a batch now (a new topic, a retry), of the size
        the refill plan says: the first batch of a topic is sized before the learner's pace is
        known (refill.refill_size)."""
        job = self.request_batch(session, topic)
        if job is not None and job.kind == JobKind.CARDS:
            self._resize(job, pace.refill_plan(session, self.settings, topic, utcnow()).size)

    @staticmethod
    def _resize(job: GenerationJob | None, size: int) -> None:
        """A card batch just queued (never claimed) asks for the planned number of cards. An
        outline job keeps asking for none: it holds none of the quota."""
        if (
            job is not None
            and job.kind == JobKind.CARDS
            and job.status == JobStatus.QUEUED
            and job.attempts == 0
            and job.saved == 0
        ):
            job.requested = size

    def steer_level(self, topic: Topic, card: Card, log: ReviewLog) -> None:
        """A first attempt at a generated card moves the topic's level. The caller holds the
        topic's row lock: concurrent reviews each add their attempt to difficulty_state."""
        if log.first_attempt and card.job_id is not None:
            # Only generated cards steer the level: hand-written ones say nothing about it.
            state = difficulty.record_first_attempt(
                difficulty_of(topic), log.rating, self.settings.difficulty_target
            )
            _store_difficulty(topic, state)

    def feedback(self, session: Session, user: User, topic_id: int, signal: str) -> Topic:
        topic = topics.get_topic(session, user, topic_id, lock=True)
        _store_difficulty(topic, difficulty.record_signal(difficulty_of(topic), signal))
        session.flush()
        return topic

    # -- transitions made by the worker (each its own short transaction) --------------------

    def start_job(self, job_id: int, owner: str) -> JobPlan | None:
        with self.db.transaction() as session:
            job = repository.get_owned_job(session, job_id, owner)
            topic = session.get(Topic, job.topic_id) if job else None
            if job is None or topic is None:
                return None
            # The level is read now, not when the job was queued, so a fresh signal counts.
            job.level = level_of(topic)
            topic.generation_status = GenerationStatus.RUNNING
            if job.kind == JobKind.OUTLINE:
                job.reservation_key = job.reservation_key or metering.usage_key()
                self._after_commit(session, topic.id, wake=False)
                return self._outline_plan(session, job, topic)
            now = utcnow()
            if sources.holds_back(session, topic.id) == sources.NO_SOURCE_READ:
                # Its sources were removed (or failed) after it was queued: a grounded topic
                # never falls back to the model's memory.
                job.lease_owner = None
                job.lease_expires_at = None
                outcome = Outcome(OutcomeKind.FAILED, sources.NO_SOURCE_READ)
                self._apply(session, job, topic, OutcomeKind.FAILED, outcome, now)
                return None
            user = session.get(User, job.user_id)
            hold = metering.reserve_for_job(
                session,
                self.settings,
                user,
                key=job.reservation_key,
                topic_id=job.topic_id,
                wanted=job.requested - job.saved,
                now=now,
            )
            job.reservation_key, count = hold.key, hold.count
            if count == 0 and job.requested > job.saved:
                self._refuse(session, job, topic, user, now)
                return None
            self._after_commit(session, topic.id, wake=False)
            grounded = sources.grounded(session, topic.id)
            grounding = (
                sources.batch_passages(session, topic.id, job.id, self.settings.source_batch_chars)
                if grounded
                else []
            )
            subtopic = self._grounded_target(session, job, topic, grounding) or self._target(
                session, job, topic
            )
            return JobPlan(
                job_id=job.id,
                topic_id=topic.id,
                user_id=topic.user_id,
                prompt=topic.prompt,
                level=job.level,
                count=count,
                attempt=job.attempts,
                lease=job.lease_owner or "",
                reservation_key=hold.key,
                card_style=topic.card_style,
                subtopic_id=subtopic.id if subtopic else None,
                subtopic=prompts.subtopic_line(subtopic.name, subtopic.scope) if subtopic else None,
                subtopic_cards=self._cards_to_list(session, topic, subtopic),
                passages=grounding,
                verify=topic.verifies(grounded),
                verify_first_alone=repository.unseen_cards(session, topic.id) == 0,
                saved_before=repository.job_card_ids(session, job.id) if job.saved else frozenset(),
            )

    @staticmethod
    def _cards_to_list(
        session: Session, topic: Topic, subtopic: Subtopic | None
    ) -> list[tuple[str, str]]:
        """What the prompt tells the model the learner has on this batch's part, and must not
        be written again. For a batch of no subtopic (the first, written before the outline):
        the cards of none. For a subtopic's batch: the first batch's cards that name it, then
        its own. Held-back cards are listed too: the model proposes them again unless told.

        The rest of the first batch is not listed: a small model copies a list of other parts'
        cards, in order, instead of writing about its own part (docs/benchmarks.md, "The
        study buffer"); the duplicate check still guards against those."""
        first_held = repository.part_held_texts(session, topic.id, None, HELD_LISTED)
        first_batch = first_held + topics.unassigned_cards(session, topic.id, SUBTOPIC_CARDS_READ)
        if subtopic is None:
            return first_batch
        named = prompts.naming_the_part(first_batch, subtopic.name, topic.prompt)
        held = repository.part_held_texts(session, topic.id, subtopic.id, HELD_LISTED)
        own = topics.subtopic_cards(session, subtopic.id, SUBTOPIC_CARDS_READ)
        return named[:NAMED_LISTED] + held + own

    @staticmethod
    def _grounded_target(
        session: Session, job: GenerationJob, topic: Topic, grounding: list[PassageRef]
    ) -> Subtopic | None:
        """A grounded batch's subtopic: the heading its first passage sits under."""
        section = next((p.section for p in grounding if p.section), None)
        if section is None:
            return None
        key = section[:NAME_CHARS].casefold()  # headings become subtopics cut to NAME_CHARS
        for subtopic in outline.subtopics(session, topic.id):
            if subtopic.name.casefold() == key:
                job.subtopic_id = subtopic.id
                return subtopic
        return None

    @staticmethod
    def _target(session: Session, job: GenerationJob, topic: Topic) -> Subtopic | None:
        """The subtopic a card batch is for: chosen on the first attempt (the least covered at
        the job's level) and kept by retries, unless the learner removed it meanwhile."""
        subtopic = outline.get_subtopic(session, job.subtopic_id) if job.subtopic_id else None
        if subtopic is None or subtopic.topic_id != topic.id:
            target_id = GenerationService._coverage(session, topic.id, job.level).target_id
            subtopic = outline.get_subtopic(session, target_id) if target_id else None
            job.subtopic_id = subtopic.id if subtopic else None
        return subtopic

    @staticmethod
    def _outline_plan(session: Session, job: GenerationJob, topic: Topic) -> JobPlan:
        return JobPlan(
            job_id=job.id,
            topic_id=topic.id,
            user_id=topic.user_id,
            prompt=topic.prompt,
            level=job.level,
            count=0,
            attempt=job.attempts,
            lease=job.lease_owner or "",
            kind=JobKind.OUTLINE,
            outline=[(s.name, s.scope) for s in outline.subtopics(session, topic.id)],
        )

    def _refuse(
        self, session: Session, job: GenerationJob, topic: Topic, user: User, now: datetime
    ) -> None:
        """Nothing of the quota is left: the job ends without calling the LLM."""
        message = metering.quota_message(metering.quota(session, self.settings, user, now))
        job.lease_owner = None
        job.lease_expires_at = None
        self._apply(
            session,
            job,
            topic,
            OutcomeKind.QUOTA_EXCEEDED,
            Outcome(OutcomeKind.QUOTA_EXCEEDED, message),
            now,
        )

    def save_card(
        self,
        plan: JobPlan,
        owner: str,
        card: ParsedCard,
        model: str | None,
        vectors: CardVectors | None = None,
        embedding_model: str | None = None,
        note_guid: str | None = None,
        citation: Citation | None = None,
    ) -> int | None:
        """Commit one card with its (job, ordinal) key and its dedup vectors; None when our
        lease was lost. A cloze card carries its note's text and `note_guid`, shared with the
        note's other cards."""
        expires = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        with self.db.transaction() as session:
            ordinal = repository.take_ordinal(session, plan.job_id, owner, expires)
            if ordinal is None:
                return None
            row = Card(
                **self._written_fields(session, plan, card, model, note_guid),
                ordinal=ordinal,
                due=utcnow(),
            )
            topics.add_generated_card(session, row)
            if not metering.bill_card(session, plan.reservation_key, ordinal, row.id):
                session.rollback()  # nothing held for it (never expected): keep no unbilled card
                return None
            if vectors is not None and embedding_model is not None:
                repository.store_embeddings(session, [_stored(row.id, embedding_model, vectors)])
            if citation is not None:
                sources.cite(session, row.id, citation)
            events.announce(session, plan.topic_id)
            return row.id

    def _written_fields(
        self,
        session: Session,
        plan: JobPlan,
        card: ParsedCard,
        model: str | None,
        note_guid: str | None,
    ) -> dict:
        """What a card the model wrote carries, shown (`cards`) or held back (`held_cards`)."""
        cloze = card.cloze is not None
        return {
            "topic_id": plan.topic_id,
            "user_id": plan.user_id,
            "job_id": plan.job_id,
            "front": card.front,
            "back": card.back,
            "extra": kept_extras(card.extra),
            "model": model,
            "level": plan.level,
            "subtopic_id": self._still_there(session, plan.subtopic_id),
            "cloze_text": card.cloze.text if cloze else None,
            "cloze_ordinal": card.cloze_ordinal if cloze else None,
            "note_guid": note_guid if cloze else None,
        }

    # -- the verification pass's held-back cards ------------------------------------------

    def hold_card(
        self,
        plan: JobPlan,
        owner: str,
        card: ParsedCard,
        model: str | None,
        label: VerdictLabel,
        reason: str,
        verifier: str | None,
        note_guid: str | None = None,
        citation: Citation | None = None,
    ) -> int | None:
        """Keep a card the verification pass turned down, with its reason: not a card, so
        never in the study queue and never billed. None when our lease was lost."""
        expires = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        with self.db.transaction() as session:
            if not repository.renew_lease(session, plan.job_id, owner, expires):
                return None
            held = HeldCard(
                **self._written_fields(session, plan, card, model, note_guid),
                citation=asdict(citation) if citation is not None else None,
                label=label.value,
                reason=reason,
                verifier=verifier,
            )
            repository.add_held(session, held)
            events.announce(session, plan.topic_id)
            return held.id

    def held_cards(
        self, session: Session, user: User, topic_id: int, limit: int, cursor: str | None
    ) -> tuple[list[HeldCard], str | None]:
        """The topic's held-back cards, newest first, for its owner (404 for anyone else)."""
        topic = topics.get_topic(session, user, topic_id)
        rows = repository.topic_held(session, topic.id, limit + 1, decode_cursor(cursor))
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return rows[:limit], next_cursor

    def restore_held(self, session: Session, user: User, held_id: int) -> Card:
        """The learner overrules the verifier: the held card becomes a card like any other,
        new in the study queue, with its citation while the passage still exists. Not billed:
        the batch that wrote it was settled without it."""
        held = repository.get_held(session, user.id, held_id)
        if held is None:
            raise not_found("Held-back card not found")
        card = topics.restore_generated_card(
            session,
            Card(
                topic_id=held.topic_id,
                user_id=held.user_id,
                front=held.front,
                back=held.back,
                extra=held.extra,
                model=held.model,
                level=held.level,
                job_id=held.job_id,
                subtopic_id=held.subtopic_id,
                due=utcnow(),
                cloze_text=held.cloze_text,
                cloze_ordinal=held.cloze_ordinal,
                note_guid=held.note_guid,
            ),
        )
        if held.citation is not None:
            self._cite_if_passage_kept(session, card.id, Citation(**held.citation))
        repository.delete_held(session, held)
        self._after_commit(session, held.topic_id, wake=False)
        return card

    @staticmethod
    def _cite_if_passage_kept(session: Session, card_id: int, citation: Citation) -> None:
        """A source removed since the card was held takes its passages with it: the card is
        restored without a citation rather than pointing at nothing."""
        try:
            with session.begin_nested():
                sources.cite(session, card_id, citation)
                session.flush()
        except IntegrityError:
            pass

    # -- dedup ----------------------------------------------------------------------------

    def thresholds(self) -> Thresholds:
        return Thresholds(self.settings.dedup_card_threshold, self.settings.dedup_answer_threshold)

    def dedup_index(
        self, plan: JobPlan, owner: str, embedder: Embedder, extra: Sequence[CardText] = ()
    ) -> DedupIndex | None:
        """Every card of the topic, generated, hand-written or imported, in one index; `extra`
        are texts a new card must not copy either (the local model's few-shot examples).

        Blocking: cards without stored vectors (written by hand, or before this feature) are
        embedded now, stored, and the lease renewed between chunks. None: the lease was lost.
        """
        with self.db.transaction(write=False) as session:
            rows = repository.cards_for_dedup(session, plan.topic_id, embedder.model)
            held = repository.held_texts(session, plan.topic_id, HELD_IN_DEDUP)
        missing = [
            (card_id, CardText(front, back))
            for card_id, front, back, stored in rows
            if stored is None
        ]
        computed: dict[int, CardVectors] = {}
        for start in range(0, len(missing), EMBED_CHUNK):
            chunk = missing[start : start + EMBED_CHUNK]
            vectors = embed_cards(embedder, [text for _, text in chunk])
            computed.update(zip([card_id for card_id, _ in chunk], vectors))
            with self.db.transaction() as session:
                repository.store_embeddings(
                    session, [_stored(i, embedder.model, v) for (i, _), v in zip(chunk, vectors)]
                )
            if not self.renew_lease(plan.job_id, owner):
                return None
        index = DedupIndex(self.thresholds())
        for card_id, front, back, stored in rows:
            index.add(
                card_id,
                CardText(front, back),
                computed.get(card_id)
                or CardVectors(
                    card=_from_bytes(stored.card_vector), answer=_from_bytes(stored.answer_vector)
                ),
            )
        for number, (text, vectors) in enumerate(zip(extra, embed_cards(embedder, extra))):
            index.add(-1 - number, text, vectors)  # not cards: negative ids
        # A card the verification pass held back is not proposed again batch after batch.
        held_texts = [CardText(front, back) for front, back in held]
        for number, (text, vectors) in enumerate(
            zip(held_texts, embed_cards(embedder, held_texts))
        ):
            index.add(HELD_IDS - number, text, vectors)
        return index

    def record_duplicate(self, plan: JobPlan, card: ParsedCard, match: Match) -> None:
        """A dropped card is kept on record with the card it matched, never lost silently."""
        with self.db.transaction() as session:
            repository.add_rejection(
                session,
                DuplicateRejection(
                    topic_id=plan.topic_id,
                    job_id=plan.job_id,
                    front=card.front,
                    back=card.back,
                    matched_card_id=match.card_id if match.card_id > 0 else None,
                    score=match.score,
                ),
            )

    def duplicates(
        self, session: Session, user: User, topic_id: int, limit: int, cursor: str | None
    ) -> tuple[list[tuple[DuplicateRejection, Card | None]], str | None]:
        """The topic's rejected repeats, newest first, for its owner (404 for anyone else)."""
        topic = topics.get_topic(session, user, topic_id)
        rows = repository.topic_rejections(session, topic.id, limit + 1, decode_cursor(cursor))
        next_cursor = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
        return rows[:limit], next_cursor

    @staticmethod
    def _still_there(session: Session, subtopic_id: int | None) -> int | None:
        """The batch's subtopic, unless the learner removed it while the batch streamed."""
        if subtopic_id is None or outline.get_subtopic(session, subtopic_id) is None:
            return None
        return subtopic_id

    def save_outline(
        self, plan: JobPlan, owner: str, subtopics: list[ParsedSubtopic]
    ) -> int | None:
        """Add the subtopics the outline does not have yet; None when our lease was lost."""
        with self.db.transaction() as session:
            if repository.get_owned_job(session, plan.job_id, owner) is None:
                return None
            return outline.add_generated(
                session, plan.topic_id, [(s.name, s.scope) for s in subtopics]
            )

    def renew_lease(self, job_id: int, owner: str) -> bool:
        expires = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        with self.db.transaction() as session:
            return repository.renew_lease(session, job_id, owner, expires)

    def finish_job(self, job_id: int, owner: str, outcome: Outcome) -> None:
        with self.db.transaction() as session:
            job = repository.get_owned_job(session, job_id, owner)
            if job is None:
                return  # the lease was lost: whoever holds the job now finishes it
            topic = session.get(Topic, job.topic_id)
            job.tokens_in += outcome.tokens_in
            job.tokens_out += outcome.tokens_out
            job.duplicates += outcome.duplicates
            job.invalid += outcome.invalid
            job.model = outcome.model or job.model
            job.lease_owner = None
            job.lease_expires_at = None
            now = utcnow()
            metering.record_tokens(
                session,
                job.user_id,
                job.reservation_key,
                job.attempts,
                now,
                (outcome.tokens_in, outcome.tokens_out),
                outcome.tokens_estimated,
            )
            kind = outcome.kind
            if kind == OutcomeKind.RETRY and job.attempts >= MAX_ATTEMPTS:
                kind = OutcomeKind.FAILED
            self._apply(session, job, topic, kind, outcome, now)

    def _apply(
        self,
        session: Session,
        job: GenerationJob,
        topic: Topic | None,
        kind: OutcomeKind,
        outcome: Outcome,
        now: datetime,
    ) -> None:
        metrics.JOBS_FINISHED.labels(kind).inc()
        if kind == OutcomeKind.RETRY:
            job.status = JobStatus.QUEUED
            job.error = outcome.error
            job.run_after = now + timedelta(seconds=outcome.retry_after)
            if topic is not None:
                topic.generation_status = GenerationStatus.QUEUED
            self._after_commit(session, job.topic_id, wake=True)
            return
        job.status = JobStatus(kind)
        job.error = outcome.error
        job.finished_at = now
        sources.finish_batch(session, job.id, worked=kind == OutcomeKind.DONE)
        # The batch is over: what it did not use goes back to the quota (exactly once).
        metering.release(session, job.reservation_key, now)
        if topic is None:
            return
        self._after_commit(session, topic.id, wake=False)
        if kind == OutcomeKind.QUOTA_EXCEEDED:
            self._stop_for_quota(topic, outcome.error or "")
            return
        if kind == OutcomeKind.FAILED:
            topic.generation_status = GenerationStatus.FAILED
            topic.generation_error = outcome.error
            return
        if sources.holds_back(session, topic.id) == sources.NO_SOURCE_READ:
            # Its sources were deleted (or failed) while this batch ran: that, not how many
            # cards the batch added, is why no more come.
            topic.generation_status = GenerationStatus.FAILED
            topic.generation_error = sources.NO_SOURCE_READ
            return
        if job.kind == JobKind.CARDS:
            self._count_fruitless(job, topic)
        if topic.generation_status == GenerationStatus.FAILED:
            return
        topic.generation_status = GenerationStatus.IDLE
        topic.generation_error = None
        session.flush()
        if job.kind == JobKind.CARDS and not outline.subtopics(session, topic.id):
            # A new topic's first batch is in: its outline comes now, full buffer or not.
            self.request_batch(session, topic)
        else:
            self.ensure_buffer(session, topic)

    @staticmethod
    def _count_fruitless(job: GenerationJob, topic: Topic) -> None:
        topic.fruitless_batches = 0 if job.saved > 0 else topic.fruitless_batches + 1
        if topic.fruitless_batches >= MAX_FRUITLESS_BATCHES:
            topic.generation_status = GenerationStatus.FAILED
            topic.generation_error = (
                f"The last {MAX_FRUITLESS_BATCHES} batches added no new card: the model keeps "
                "repeating cards this topic already has, or the check held every new one back "
                "(see the held-back cards). Rephrase the topic or use a stronger model, then "
                "retry."
            )

    # -- the ticker's chores (idempotent, safe in every process) ----------------------------

    def requeue_expired(self) -> int:
        """Jobs whose worker died: back in the queue; they ask only for the missing cards."""
        now = utcnow()
        with self.db.transaction() as session:
            jobs = repository.expired_jobs(session, now)
            for job in jobs:
                metrics.LEASE_EXPIRIES.inc()
                job.lease_owner = None
                job.lease_expires_at = None
                topic = session.get(Topic, job.topic_id)
                outcome = Outcome(kind=OutcomeKind.RETRY, error="The worker stopped mid-batch")
                kind = OutcomeKind.FAILED if job.attempts >= MAX_ATTEMPTS else OutcomeKind.RETRY
                if kind == OutcomeKind.FAILED:
                    outcome = Outcome(
                        kind=OutcomeKind.FAILED,
                        error="Generation was interrupted repeatedly; press retry to try again.",
                    )
                self._apply(session, job, topic, kind, outcome, now)
            return len(jobs)

    def reopen_quota_topics(self, session: Session) -> int:
        """Topics stopped by the quota go back to idle once their owner has cards again (a new
        period began, or the plan changed), so the refill picks them up."""
        reopened = 0
        now = utcnow()
        refused: dict[int, bool] = {}
        for topic in repository.topics_over_quota(session):
            if topic.user_id not in refused:
                user = session.get(User, topic.user_id)
                refused[topic.user_id] = (
                    metering.refusal(session, self.settings, user, now) is not None
                )
            if not refused[topic.user_id]:
                topic.generation_status = GenerationStatus.IDLE
                topic.generation_error = None
                if not topic.generates:
                    self._show_paused(topic)  # archived or turned off meanwhile
                self._after_commit(session, topic.id, wake=False)
                reopened += 1
        session.flush()
        return reopened

    def refill_active_topics(self) -> int:
        since = utcnow() - timedelta(days=self.settings.refill_idle_days)
        queued = 0
        with self.db.transaction() as session:
            self.reopen_quota_topics(session)
            for topic_id in repository.topics_to_refill(session, since):
                topic = session.get(Topic, topic_id)
                if topic is None:
                    continue
                before = repository.active_job(session, topic.id)
                self.ensure_buffer(session, topic)
                queued += before is None and repository.active_job(session, topic.id) is not None
        return queued

    def queue_depth(self) -> int:
        with self.db.transaction(write=False) as session:
            return repository.queue_depth(session)
