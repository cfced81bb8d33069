"""The `srs` command: serve, worker, migrate, plans, usage, billing."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from srs.kit.settings import get_settings


def _logging(level: str) -> None:
    """key=value lines, each with the request id it belongs to (``-`` for background work)."""
    from srs.kit.middleware import RequestIdFilter

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter(
            "ts=%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s "
            "%(message)s"
        )
    )
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    # Every tick would otherwise log two lines; failures still show as warnings and errors.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def cmd_migrate(_args: argparse.Namespace) -> int:
    from srs.kit.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    print(f"database at head: {settings.database_url.split('@')[-1]}")
    return 0


# Named, not "auto": a missing parser or loop is an import error at start, not a quiet fall
# back to h11 and asyncio's loop at about 10% more CPU a request (docs/benchmarks.md).
SERVER_OPTIONS = {"http": "httptools", "loop": "uvloop"}


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from srs.app import create_app

    settings = get_settings()
    if args.workers > 1 and settings.database_url.startswith("sqlite"):
        print(
            "error: --workers needs PostgreSQL. SQLite allows one writer, and wake-ups between "
            "API processes travel through PostgreSQL's LISTEN/NOTIFY; run one process on "
            "SQLite, or set SRS_DATABASE_URL to a PostgreSQL database.",
            file=sys.stderr,
        )
        return 2
    if not args.no_migrate:
        cmd_migrate(args)
    if settings.llm_provider == "local":
        from srs.llm.local import LOCAL_MODELS

        print(f"LLM: the embedded model {settings.local_model}. {LOCAL_MODELS[settings.local_model].notice}")
    elif not settings.llm_provider:
        print("LLM: none configured; generation will report an error until one is set.")
    host, port = args.host or settings.host, args.port or settings.port
    if args.workers > 1:
        return _serve_processes(args.workers, host, port, args.log_level)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
        access_log=False,  # ours (srs.access) carries the request id
        **SERVER_OPTIONS,
    )
    return 0


def _serve_processes(count: int, host: str, port: int, log_level: str) -> int:
    """`count` API processes, each with a listening socket of its own on the same port
    (SO_REUSEPORT): the kernel spreads connections over them one by one. uvicorn's own
    --workers shares one socket, and the process that wakes first accepts a whole burst of
    connections (measured: 14 of 16 connections opened together landed in one process, which
    then ran at one core while the other idled; tests/kit/test_serve_workers.py). Stops them all when one
    exits (then failing, as a supervisor restarts the service whole) or on SIGINT/SIGTERM."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # each builds its own app, after no fork
    processes = [
        context.Process(target=_serve_one, args=(host, port, log_level), name=f"srs-api-{n}")
        for n in range(count)
    ]
    stopping = False

    def stop(*_signal: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn shuts down gracefully

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        print(f"srs serve: {count} API processes on {host}:{port}", flush=True)
        from multiprocessing.connection import wait

        wait([process.sentinel for process in processes])  # returns when the first one exits
        asked_to_stop = stopping
        stop()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if asked_to_stop:
        return 0
    codes = ", ".join(f"{process.name} {process.exitcode}" for process in processes)
    print(f"srs serve: an API process exited on its own; stopped the rest ({codes})", file=sys.stderr)
    return 1


def _serve_one(host: str, port: int, log_level: str) -> None:
    import socket

    import uvicorn

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    config = uvicorn.Config(
        "srs.app:create_app",
        factory=True,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        access_log=False,
        **SERVER_OPTIONS,
    )
    uvicorn.Server(config).run(sockets=[listener])


async def _run_worker() -> None:
    from srs.app import _chores, build_worker
    from srs.generation.service import GenerationService
    from srs.generation.ticker import start_ticker
    from srs.kit.db import Database
    from srs.kit.events import TopicEvents, trace_to

    settings = get_settings()
    trace_to(settings.delivery_trace)
    db = Database(settings.database_url)
    events = TopicEvents()  # no long-pollers in this process: API processes poll the database
    service = GenerationService(db, settings)
    worker = build_worker(service, settings, events)
    ticker = start_ticker(_chores(service))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.run())
    worker.warm_up()  # the embedded model loads in the background
    await stop.wait()
    ticker.shutdown(wait=False)
    await worker.stop()
    task.cancel()
    db.dispose()


def cmd_worker(_args: argparse.Namespace) -> int:
    asyncio.run(_run_worker())
    return 0


def cmd_plans_set(args: argparse.Namespace) -> int:
    from srs.accounts import repository
    from srs.kit.db import Database, utcnow
    from srs.metering.plans import plan_named
    from srs.metering.service import set_plan

    settings = get_settings()
    try:
        plan = plan_named(settings, args.plan)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    with db.transaction() as session:
        user = repository.get_user_by_email(session, args.email.strip().lower())
        if user is None:
            print(f"error: no user with email {args.email}", file=sys.stderr)
            return 1
        set_plan(session, settings, user, plan.name, utcnow())
        anchor = f"{user.plan_anchor:%Y-%m-%d %H:%M} UTC"
        print(f"{args.email}: plan {plan.name}, billing periods start at {anchor}")
    db.dispose()
    return 0


def cmd_usage_rebuild(_args: argparse.Namespace) -> int:
    from srs.kit.db import Database
    from srs.metering.service import rebuild

    settings = get_settings()
    db = Database(settings.database_url)
    changes = rebuild(db)
    db.dispose()
    for line in changes:
        print(line)
    print(f"{len(changes)} counter(s) changed" if changes else "counters already match the ledger")
    return 0


def cmd_billing_parked(_args: argparse.Namespace) -> int:
    from srs.kit.db import Database
    from srs.metering import repository

    settings = get_settings()
    db = Database(settings.database_url)
    with db.transaction(write=False) as session:
        parked = repository.all_parked(session)
    db.dispose()
    for event in parked:
        print(
            f"{event.id} {event.type} customer={event.customer} "
            f"created={event.created:%Y-%m-%d %H:%M:%S} parked={event.parked_at:%Y-%m-%d %H:%M:%S}"
        )
    print(
        f"{len(parked)} event(s) wait for their customer to be linked to a user"
        if parked
        else "no parked billing events"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="srs", description="AI spaced-repetition flashcards")
    root.add_argument("--log-level", default="info")
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="API + web app + embedded worker and ticker")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="do not run migrations first")
    serve.add_argument(
        "--workers", type=int, default=1, help="API processes (PostgreSQL only; default 1)"
    )
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="generation worker only").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)
    plans = sub.add_parser("plans", help="plan administration").add_subparsers(
        dest="plans_command", required=True
    )
    plans_set = plans.add_parser("set", help="put a user on a plan")
    plans_set.add_argument("email")
    plans_set.add_argument("plan")
    plans_set.set_defaults(func=cmd_plans_set)
    usage = sub.add_parser("usage", help="usage metering").add_subparsers(
        dest="usage_command", required=True
    )
    usage.add_parser(
        "rebuild", help="recompute the usage counters from the ledger (run with workers stopped)"
    ).set_defaults(func=cmd_usage_rebuild)
    billing = sub.add_parser("billing", help="billing webhooks").add_subparsers(
        dest="billing_command", required=True
    )
    billing.add_parser(
        "parked", help="list webhook events waiting for their customer to be linked to a user"
    ).set_defaults(func=cmd_billing_parked)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _logging(args.log_level)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
