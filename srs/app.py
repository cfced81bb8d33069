"""create_app(): the API, the web app, and (by default) the embedded worker and ticker."""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from srs.accounts.endpoints import me_router
from srs.accounts.endpoints import router as auth_router
from srs.accounts.passwords import PasswordHashing
from srs.exports.endpoints import router as exports_router
from srs.generation.endpoints import router as generation_router
from srs.generation.service import GenerationService
from srs.generation.ticker import start_ticker
from srs.generation.worker import Worker
from srs.imports.endpoints import router as imports_router
from srs.imports.runner import ImportRunner
from srs.imports.service import fail_interrupted
from srs.kit import metrics, paths
from srs.kit.db import Database
from srs.kit.errors import ERROR_RESPONSES, AppError, install_error_handlers
from srs.kit.events import TopicEvents, trace_to
from srs.kit.listener import TopicListener
from srs.kit.middleware import BodyLimit, SecurityHeaders
from srs.kit.ratelimit import RateLimiter
from srs.kit.settings import Settings, get_settings
from srs.llm import build_provider
from srs.metering import service as metering
from srs.metering import stripe_sync
from srs.metering.endpoints import router as metering_router
from srs.outline.endpoints import router as outline_router
from srs.rewrites.endpoints import router as rewrites_router
from srs.rewrites.service import RewriteService
from srs.sources.endpoints import router as sources_router
from srs.sources.service import SourceService
from srs.stats.endpoints import router as stats_router
from srs.study.endpoints import router as study_router
from srs.study.gate import LongPollGate
from srs.study.tasks import fit_due_learners
from srs.topics.endpoints import router as topics_router

log = logging.getLogger(__name__)
WEB_DIR = paths.WEB


def build_worker(service: GenerationService, settings: Settings, events: TopicEvents) -> Worker:
    worker = Worker(
        service,
        settings,
        provider_factory=lambda: build_provider(settings),
        notify=events.notify,
        concurrency=settings.worker_concurrency,
    )
    service.on_job_queued(worker.wake)
    return worker


def _chores(service: GenerationService) -> dict[str, tuple[Callable[[], object], float]]:
    """Each chore with how often it runs."""
    tick = service.settings.tick_seconds
    return {
        "requeue_expired": (service.requeue_expired, tick),
        "refill_active_topics": (service.refill_active_topics, tick),
        "queue_depth": (lambda: metrics.QUEUE_DEPTH.set(service.queue_depth()), tick),
        "fit_fsrs": (
            lambda: fit_due_learners(service.db, service.settings),
            service.settings.fit_every_seconds,
        ),
        "reconcile_usage": (
            lambda: metering.reconcile(service.db),
            service.settings.usage_reconcile_seconds,
        ),
        "report_usage": (
            lambda: stripe_sync.report_usage(service.db, service.settings),
            service.settings.usage_report_seconds,
        ),
    }


def _start_listener(db: Database, settings: Settings, events: TopicEvents) -> asyncio.Task | None:
    """On PostgreSQL, wake-ups from every process arrive through LISTEN (SQLite: in-process)."""
    if db.is_sqlite or not settings.pg_listen:
        return None
    return asyncio.create_task(TopicListener(db.url, events).run())


def _settle_heap() -> None:
    """Move what start-up made (about 175,000 objects: modules, routes, models) out of the
    collector's reach. It lives as long as the process, and each full collection walked it
    while every request in the process waited: 100-200 ms a pause under the load bench, 20-60
    ms once frozen (measured with gc.callbacks, docs/benchmarks.md, session 12)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        db = Database(settings.database_url)
        trace_to(settings.delivery_trace)
        events = TopicEvents()
        events.bind(asyncio.get_running_loop())
        generation = GenerationService(db, settings)
        generation.on_topic_changed(events.notify)
        app.state.settings, app.state.db = settings, db
        app.state.events, app.state.generation = events, generation
        app.state.limiter = RateLimiter()
        app.state.password_hashing = PasswordHashing(
            per_address=settings.password_checks_per_address
        )
        app.state.db_turn = db.admission()
        fail_interrupted(db)
        app.state.imports = ImportRunner(db)
        app.state.sources = SourceService(db, settings, generation.request_batch)
        app.state.sources.fail_interrupted()
        worker_task = ticker = None
        if settings.worker_enabled:
            app.state.worker = build_worker(generation, settings, events)
            worker_task = asyncio.create_task(app.state.worker.run())
            app.state.worker.warm_up()  # in a background thread: start-up does not wait
        # A rewrite asks the generator's provider (the worker's, where this process runs one).
        app.state.rewrites = RewriteService(
            settings, app.state.worker.provider if settings.worker_enabled else None
        )
        if settings.ticker_enabled:
            ticker = start_ticker(_chores(generation))
        listener = _start_listener(db, settings, events)
        _settle_heap()
        try:
            yield
        finally:
            if listener is not None:
                listener.cancel()
            if ticker is not None:
                ticker.shutdown(wait=False)
            if worker_task is not None:
                await app.state.worker.stop()
                worker_task.cancel()
            await app.state.rewrites.aclose()
            app.state.imports.shutdown()
            app.state.sources.shutdown()
            app.state.password_hashing.shutdown()
            await db.dispose_loop_pool()
            db.dispose()

    app = FastAPI(
        title="srs",
        version="1.0.0",
        description="AI-generated flashcards scheduled by FSRS.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    # Routes are matched in order, router by router: the study loop's first, as nearly every
    # request is one of its steps (matching the review past the others was 3% of a step's CPU,
    # py-spy, docs/benchmarks.md, session 15). No two routers' paths overlap.
    for router in (
        study_router,
        auth_router,
        me_router,
        topics_router,
        generation_router,
        exports_router,
        imports_router,
        stats_router,
        metering_router,
        outline_router,
        sources_router,
        rewrites_router,
    ):
        api.include_router(router)
    app.include_router(api)
    _add_operational_routes(app)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    else:
        log.error("the web app's files are missing (looked in %s): serving the API only", WEB_DIR)
    app.add_middleware(LongPollGate)  # inside the others: its 429s carry their headers
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={
            "/api/v1/imports": settings.import_max_bytes + 64 * 1024,
            "/api/v1/sources": settings.source_max_bytes + 64 * 1024,
        },
        larger_patterns={r"/api/v1/topics/\d+/sources": settings.source_max_bytes + 64 * 1024},
    )
    app.add_middleware(SecurityHeaders)
    return app


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        try:
            app.state.db.ping()
        except Exception as error:  # the answer says the database is down, not a bare 500
            raise AppError(
                f"database unreachable: {type(error).__name__}",
                code="unavailable",
                status_code=503,
            ) from error
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def prometheus(request: Request) -> Response:
        if not _may_read_metrics(request, app.state.settings):
            raise AppError("Not found", code="not_found", status_code=404)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


LOOPBACK = {"127.0.0.1", "::1"}


def _may_read_metrics(request: Request, settings: Settings) -> bool:
    """With SRS_METRICS_TOKEN, only a caller sending it as a bearer token; without one, only
    loopback clients outside production (uvicorn takes a local proxy's X-Forwarded-For as the
    client, so a proxied outsider is not loopback). Others are told it does not exist."""
    if settings.metrics_token:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {settings.metrics_token}".encode())
    client = request.client.host if request.client else ""
    return settings.env != "production" and client in LOOPBACK
