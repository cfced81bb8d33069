"""Sources: a topic learns from the learner's own material.

A source is stored at once (202) and read in the background, one at a time: fetched (a URL),
extracted (PDF, Markdown, plain text, HTML, EPUB), split into passages, checked against the
plan's monthly limits, and its headings become the topic's outline. Card batches of a topic
with passages then work through them in reading order (`batch_passages`), each card citing
the passage it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from srs.accounts.models import User
from srs.kit import metrics
from srs.kit.db import Database, utcnow
from srs.kit.errors import AppError, not_found
from srs.kit.settings import Settings
from srs.kit.text import strip_control_characters
from srs.metering import service as metering
from srs.metering.schemas import SourcesUsage
from srs.outline import service as outline
from srs.outline.models import NAME_CHARS
from srs.sources import fetch, passages, repository
from srs.sources.extract import Document, ExtractionError, extract, format_of
from srs.sources.grounding import Citation, PassageRef
from srs.sources.models import (
    CardCitation,
    Passage,
    Source,
    SourceFormat,
    SourceKind,
    SourceStatus,
    SourceUsage,
)
from srs.sources.schemas import (
    CardPassageOut,
    CitationRef,
    PassageOut,
    QuoteOut,
    SourceOut,
)
from srs.sources.url_policy import RefusedURL
from srs.topics import service as topics
from srs.topics.models import Topic
from srs.topics.schemas import TopicIn

log = logging.getLogger(__name__)

# Passages one batch may carry, whatever their size (their text is bounded by batch_chars).
MAX_BATCH_PASSAGES = 12
PROMPT_TITLE_CHARS = 500


@dataclass(frozen=True)
class Upload:
    """What the learner sent: pasted text, a file's bytes, or a URL."""

    kind: SourceKind
    title: str | None = None
    data: bytes | None = None
    filename: str | None = None
    content_type: str | None = None
    url: str | None = None


def too_large(limit: int) -> AppError:
    return AppError(
        f"A source may be at most {limit // (1024 * 1024)} MB ({limit} bytes)",
        code="source_too_large",
        status_code=413,
    )


def fetch_policy(settings: Settings) -> fetch.FetchPolicy:
    return fetch.FetchPolicy(
        max_bytes=settings.source_max_bytes,
        timeout=settings.source_fetch_timeout,
        allow_hosts=frozenset(h.strip().lower() for h in settings.source_fetch_allow_hosts),
    )


class SourceService:
    """Made once by the app; `request_batch(session, topic)` is generation's, called once a
    source is ready so the topic's first grounded batch starts."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        request_batch: Callable[[Session, Topic], object] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self._request_batch = request_batch
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="srs-sources")
        self.policy = fetch_policy(settings)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def fail_interrupted(self) -> int:
        """At start-up: sources a stopped server left unread say so (their bytes are gone)."""
        with self.db.transaction() as session:
            return repository.fail_unfinished(
                session, "The server restarted while reading this source: add it again.", utcnow()
            )

    # -- from the API ------------------------------------------------------------------------

    def add(
        self, session: Session, user: User, upload: Upload, topic_id: int | None = None
    ) -> Source:
        """Store a source for a topic (a new one named after it when `topic_id` is None) and
        read it once the request's transaction commits."""
        size = len(upload.data or b"")
        if size > self.settings.source_max_bytes:
            raise too_large(self.settings.source_max_bytes)
        if upload.kind is SourceKind.URL:
            try:
                fetch.check(upload.url or "", self.policy)
            except RefusedURL as error:
                raise AppError(error.message, code="url_refused", status_code=422) from None
        if upload.kind is SourceKind.FILE:
            try:
                format_of(upload.filename or "", upload.content_type)
            except ExtractionError as error:
                raise AppError(error.message, code="unsupported_format", status_code=415) from None
        self._ensure_fits(session, user, size, 0)
        title = _title(upload)
        if topic_id is None:
            metering.ensure_topic_allowed(session, self.settings, user)
            topic = topics.create_topic(session, user, TopicIn(prompt=title[:PROMPT_TITLE_CHARS]))
        else:
            topic = topics.get_topic(session, user, topic_id, lock=True)
        now = utcnow()
        source = repository.add(
            session,
            Source(
                topic_id=topic.id,
                user_id=user.id,
                kind=upload.kind.value,
                title=title,
                url=upload.url,
                size_bytes=size,
                status=SourceStatus.PENDING.value,
                created_at=now,
            ),
        )
        source_id = source.id
        # Counted in the ledger from now on, whatever becomes of the source or its topic.
        repository.add_usage(
            session,
            SourceUsage(user_id=user.id, source_id=source_id, size_bytes=size, created_at=now),
        )
        event.listen(
            session,
            "after_commit",
            lambda _s: self._pool.submit(self._read_safely, source_id, upload),
            once=True,
        )
        return source

    def _used(
        self, session: Session, user: User, now: datetime
    ) -> tuple[metering.SourceAllowance, int, int]:
        """The plan's source limits this period and the (bytes, pages) already used: the one
        count both the refusal of a new source and GET /usage read."""
        allowance = metering.source_allowance(self.settings, user, now)
        used_bytes, used_pages = repository.usage(
            session, user.id, allowance.period.start, allowance.period.end
        )
        return allowance, used_bytes, used_pages

    def _ensure_fits(self, session: Session, user: User, size: int, pages: int) -> None:
        allowance, used_bytes, used_pages = self._used(session, user, utcnow())
        metering.ensure_source_fits(allowance, used_bytes, used_pages, size, pages)

    def usage(self, session: Session, user: User, now: datetime) -> SourcesUsage:
        """This period's source bytes and pages against the plan's limits (for GET /usage)."""
        return metering.sources_usage(*self._used(session, user, now))

    def get(self, session: Session, user: User, source_id: int, lock: bool = False) -> Source:
        source = repository.get(session, source_id, lock=lock)
        if (
            source is None
            or source.user_id != user.id
            or source.status == SourceStatus.REMOVED.value
        ):
            raise not_found("Source not found")
        return source

    def remove(self, session: Session, user: User, source_id: int) -> None:
        """Delete a source: its text, its passages and the citations of its cards go (the
        cards stay, studied as before, without a "from:" line); a read in progress stops at
        its next step. The row stays as `removed`; its usage ledger row is untouched, so this
        period's usage still counts it."""
        source = self.get(session, user, source_id, lock=True)
        repository.delete_passages(session, source.id)
        source.status = SourceStatus.REMOVED.value
        source.text, source.error, source.url = None, None, None
        source.finished_at = utcnow()
        session.flush()
        topic = session.get(Topic, source.topic_id)
        if (
            topic is not None
            and self._request_batch is not None
            and not repository.has_passages(session, topic.id)
        ):
            # Says at once why no card comes now (or goes on with another source).
            self._request_batch(session, topic)

    def topic_sources(self, session: Session, user: User, topic_id: int) -> list[Source]:
        topic = topics.get_topic(session, user, topic_id)
        return repository.topic_sources(session, topic.id)

    def out(self, session: Session, sources: Sequence[Source]) -> list[SourceOut]:
        counts = repository.passage_counts(session, [s.id for s in sources])
        return [_source_out(s, *counts.get(s.id, (0, 0))) for s in sources]

    def passages(self, session: Session, user: User, source_id: int) -> list[PassageOut]:
        source = self.get(session, user, source_id)
        return [_passage_out(p) for p in repository.source_passages(session, source.id)]

    def card_passage(self, session: Session, user: User, card_id: int) -> CardPassageOut:
        card = topics.get_card(session, user, card_id)
        citation = repository.citation(session, card.id)
        if citation is None:
            raise not_found("This card was not written from a source")
        source = repository.get(session, citation.passage.source_id)
        return CardPassageOut(
            card_id=card.id,
            source_title=source.title if source else "",
            passage=_passage_out(citation.passage),
            quote=QuoteOut(text=citation.quote, start=citation.quote_start, end=citation.quote_end),
        )

    # -- the background read -----------------------------------------------------------------

    def _read_safely(self, source_id: int, upload: Upload) -> None:
        try:
            self._read(source_id, upload)
        except Exception:
            # Runs in the pool, whose futures nobody reads: nothing may escape unlogged.
            metrics.BACKGROUND_FAILURES.labels("source").inc()
            log.exception("source %s: reading failed unexpectedly", source_id)
            self._fail_or_log(source_id, "Internal error while reading this source")

    def _fail_or_log(self, source_id: int, message: str) -> None:
        """Show the failure on the source; when even that fails (the database is down), say
        so: the source shows `extracting` until the next start marks it failed."""
        try:
            self._fail(source_id, message)
        except Exception:
            metrics.BACKGROUND_FAILURES.labels("source").inc()
            log.exception("source %s: could not be marked failed; the next start will", source_id)

    def _set(self, source_id: int, **values) -> bool:
        """Record the read's progress; False once the source is gone (deleted, or its topic):
        the read then stops. A size (a URL's, once fetched) is counted in the ledger too."""
        with self.db.transaction() as session:
            source = repository.get(session, source_id, lock=True)
            if source is None or source.status not in repository.UNFINISHED:
                return False
            for name, value in values.items():
                setattr(source, name, value)
            if "size_bytes" in values:
                repository.set_usage(session, source_id, size_bytes=values["size_bytes"])
            return True

    def _fail(self, source_id: int, message: str) -> None:
        with self.db.transaction() as session:
            source = repository.get(session, source_id, lock=True)
            if source is None or source.status not in repository.UNFINISHED:
                return  # deleted meanwhile: nothing to report
            source.status = SourceStatus.FAILED.value
            source.error = message
            source.finished_at = utcnow()
            repository.drop_usage(session, source.id)
            topic = session.get(Topic, source.topic_id)
            if topic is not None and not repository.has_passages(session, topic.id):
                topic.generation_status = "failed"
                topic.generation_error = f"{SOURCE_FAILED}{message}"

    def _read(self, source_id: int, upload: Upload) -> None:
        if not self._set(source_id, status=SourceStatus.EXTRACTING.value, progress=0.05):
            return
        data, fmt = upload.data or b"", None
        try:
            if upload.kind is SourceKind.URL:
                fetched = fetch.fetch(upload.url or "", self.policy)
                data = fetched.body
                fmt = format_of(fetched.url.split("?")[0].rsplit("/", 1)[-1], fetched.content_type)
                if not self._set(source_id, size_bytes=len(data), progress=0.3):
                    return
            elif upload.kind is SourceKind.FILE:
                fmt = format_of(upload.filename or "", upload.content_type)
            else:
                fmt = SourceFormat.MARKDOWN  # pasted text: "# Heading" lines are sections
            document = extract(data, fmt, self.settings.source_max_pages)
        except (RefusedURL, fetch.FetchError, ExtractionError) as error:
            self._fail(source_id, error.message)
            return
        if not self._set(source_id, format=fmt.value, progress=0.7):
            return
        drafts = passages.split(document.blocks, self.settings.source_passage_chars)
        try:
            self._save(source_id, upload, document, drafts, len(data))
        except AppError as error:  # the plan's monthly limits
            self._fail(source_id, error.message)

    def _save(
        self,
        source_id: int,
        upload: Upload,
        document: Document,
        drafts: list[passages.PassageDraft],
        size: int,
    ) -> None:
        with self.db.transaction() as session:
            source = repository.get(session, source_id, lock=True)
            if source is None or source.status != SourceStatus.EXTRACTING.value:
                return  # deleted meanwhile (or its topic)
            user = session.get(User, source.user_id)
            # The check counts this source's bytes and pages once, as what it would add.
            repository.set_usage(session, source.id, size_bytes=0, pages=0)
            self._ensure_fits(session, user, size, document.pages or 0)
            repository.set_usage(session, source.id, size_bytes=size, pages=document.pages or 0)
            source.size_bytes, source.pages = size, document.pages
            source.text = passages.document_text(document.blocks)
            if document.title and not upload.title and upload.kind is SourceKind.URL:
                source.title = document.title[:200]
            repository.add_passages(
                session,
                [
                    Passage(
                        source_id=source.id,
                        topic_id=source.topic_id,
                        position=d.position,
                        section=d.section,
                        page=d.page,
                        label=d.label,
                        start=d.start,
                        end=d.end,
                        text=d.text,
                    )
                    for d in drafts
                ],
            )
            headings = [h[:NAME_CHARS] for h in document.headings] or [source.title[:NAME_CHARS]]
            outline.add_generated(session, source.topic_id, [(h, "") for h in headings])
            source.status = SourceStatus.READY.value
            source.progress = 1.0
            source.finished_at = utcnow()
            topic = session.get(Topic, source.topic_id)
            if topic is not None and self._request_batch is not None:
                if topic.generation_status == "failed" and _source_failure(topic.generation_error):
                    topic.generation_status, topic.generation_error = "idle", None
                session.flush()
                self._request_batch(session, topic)


SOURCE_FAILED = "The topic's source could not be read: "


def _source_failure(error: str | None) -> bool:
    """Whether a topic's generation error is one of ours (cleared when a source is ready)."""
    return bool(error) and (error.startswith(SOURCE_FAILED) or error == NO_SOURCE_READ)


# -- for the generation service --------------------------------------------------------------


NO_SOURCE_READ = (
    "None of this topic's sources could be read (see each source's error), or they were "
    "deleted: add one that can be read."
)


def holds_back(session: Session, topic_id: int) -> str | None:
    """Why no batch may start now, or None: a source is still being read ("reading"), or the
    topic has had sources and none can be used (failed or removed: NO_SOURCE_READ): its
    cards must come from them, not from the model's memory."""
    if repository.unfinished(session, topic_id):
        return "reading"
    if repository.topic_sources(session, topic_id, removed=True) and not repository.has_passages(
        session, topic_id
    ):
        return NO_SOURCE_READ
    return None


def grounded(session: Session, topic_id: int) -> bool:
    return repository.has_passages(session, topic_id)


def grounded_of(session: Session, topic_ids: list[int]) -> set[int]:
    """Which of the topics have sources, in one read."""
    return repository.topics_with_passages(session, topic_ids)


def batch_passages(
    session: Session, topic_id: int, job_id: int, budget_chars: int
) -> list[PassageRef]:
    """The passages a card batch covers: those it already holds (a retry keeps them), else
    the next least-worked ones in reading order, as many as fit `budget_chars` (at least one)
    and all under one heading (so the batch's subtopic is theirs)."""
    held = repository.job_passages(session, job_id)
    if not held:
        used = 0
        for passage in repository.next_passages(session, topic_id, MAX_BATCH_PASSAGES):
            if held and (
                used + len(passage.text) > budget_chars
                or (passage.source_id, passage.section) != (held[0].source_id, held[0].section)
            ):
                break  # full, or the next section: a batch stays under one heading
            passage.job_id = job_id  # any earlier holder's batch has ended (one per topic)
            used += len(passage.text)
            held.append(passage)
        session.flush()
    return [PassageRef(p.id, p.label, p.section, p.text) for p in held]


def finish_batch(session: Session, job_id: int, worked: bool) -> None:
    """A batch ended: its passages count one more round if it did its work, and are free."""
    if worked:
        repository.finish_job(session, job_id)
        return
    for passage in repository.job_passages(session, job_id):
        passage.job_id = None


def cite(session: Session, card_id: int, citation: Citation) -> None:
    """Record a new card's citation, unless its passage's source was deleted while the batch
    was being written: the card then stays uncited, like the source's other cards."""
    if repository.get_passage(session, citation.passage_id, share=True) is None:
        return
    repository.add_citation(
        session,
        CardCitation(
            card_id=card_id,
            passage_id=citation.passage_id,
            quote=citation.quote,
            quote_start=citation.start,
            quote_end=citation.end,
        ),
    )


def carry_citation(session: Session, from_card_id: int, to_card_ids: list[int]) -> None:
    """A card replaced by others (a leech split into two) hands its citation on: each new
    card says the same passage and quote (unless the source is being deleted, as in cite)."""
    original = repository.citation(session, from_card_id)
    if original is None:
        return
    kept = Citation(
        passage_id=original.passage_id,
        quote=original.quote,
        start=original.quote_start,
        end=original.quote_end,
    )
    for card_id in to_card_ids:
        cite(session, card_id, kept)


def citation_ref(citation: CardCitation | None) -> CitationRef | None:
    if citation is None:
        return None
    passage = citation.passage
    return CitationRef(
        id=passage.id,
        source_id=passage.source_id,
        label=passage.label,
        page=passage.page,
        section=passage.section,
        quote=citation.quote,
    )


def export_rows(session: Session, user_id: int) -> dict[str, list]:
    """The learner's sources, their passages, the cards' citations and the sources' usage
    ledger (for GET /me/export)."""
    return {
        "sources": repository.user_sources(session, user_id),
        "passages": repository.user_passages(session, user_id),
        "card_citations": repository.user_citations(session, user_id),
        "source_usage": repository.user_source_usage(session, user_id),
    }


# -- shapes ----------------------------------------------------------------------------------


def _title(upload: Upload) -> str:
    if upload.title:
        title = upload.title
    elif upload.kind is SourceKind.FILE and upload.filename:
        title = upload.filename
    elif upload.kind is SourceKind.URL and upload.url:
        title = upload.url
    else:
        text = (upload.data or b"").decode("utf-8", "replace")
        title = next((line.lstrip("# ") for line in text.splitlines() if line.strip()), "")
    title = " ".join(strip_control_characters(title).split())[:200]
    return title or "Pasted text"


def _source_out(source: Source, total: int, covered: int) -> SourceOut:
    return SourceOut(
        id=source.id,
        topic_id=source.topic_id,
        kind=source.kind,  # type: ignore[arg-type]
        format=source.format,  # type: ignore[arg-type]
        title=source.title,
        url=source.url,
        status=SourceStatus(source.status),
        progress=source.progress,
        error=source.error,
        size_bytes=source.size_bytes,
        pages=source.pages,
        passages=total,
        covered=covered,
        created_at=source.created_at,
        finished_at=source.finished_at,
    )


def _passage_out(passage: Passage) -> PassageOut:
    return PassageOut(
        id=passage.id,
        source_id=passage.source_id,
        position=passage.position,
        label=passage.label,
        section=passage.section,
        page=passage.page,
        start=passage.start,
        end=passage.end,
        covered=passage.rounds > 0,
        text=passage.text,
    )
