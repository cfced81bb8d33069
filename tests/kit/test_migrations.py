"""The schema comes from Alembic; the models must not drift from it."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select
from sqlalchemy.orm import Session

from srs.kit.db import normalize_url, utcnow
from srs.kit.migrate import alembic_config, upgrade
from srs.metering.periods import period_for
from srs.models import Base, Source, SourceUsage, Topic, User
from srs.sources import repository
from srs.sources.models import SourceStatus


def test_models_and_migrations_agree(database_url):
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_upgrade_head_builds_every_table(database_url):
    engine = create_engine(normalize_url(database_url))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_the_source_usage_ledger_is_backfilled_with_the_counts_shown_until_now(database_url):
    """0015 moves the source counts to their own ledger: every source that counted before (a
    deleted one too, a failed one not) counts the same after, in the period it was added."""
    url = normalize_url(database_url)
    command.downgrade(alembic_config(url), "0014_card_rewrites")
    engine = create_engine(url)
    try:
        now = utcnow()
        period = period_for(now - timedelta(days=3), now)
        with Session(engine) as session, session.begin():
            ada = User(email="ada@example.com", password_hash="x", plan_anchor=period.start)
            bob = User(email="bob@example.com", password_hash="x", plan_anchor=period.start)
            session.add_all([ada, bob])
            session.flush()

            # Topics through Core, naming only columns 0014 has: the ORM would write columns
            # that later migrations add (topics.verify_cards, 0016).
            def topic_of(user: User, title: str) -> tuple[int, int]:
                values = {"user_id": user.id, "title": title, "prompt": title}
                topic_id = session.scalar(
                    insert(Topic.__table__).values(values).returning(Topic.id)
                )
                return topic_id, user.id

            topic, bobs = topic_of(ada, "Atlas"), topic_of(bob, "Bob's")

            def source(owner: tuple[int, int], status: SourceStatus, size: int, pages, at):
                return Source(
                    topic_id=owner[0],
                    user_id=owner[1],
                    kind="file",
                    title="a.pdf",
                    status=status.value,
                    size_bytes=size,
                    pages=pages,
                    created_at=at,
                )

            session.add_all(
                [
                    source(topic, SourceStatus.READY, 1000, 30, now),
                    source(topic, SourceStatus.REMOVED, 200, 4, now),  # deleted: still counted
                    source(topic, SourceStatus.PENDING, 50, None, now),  # not read yet
                    source(topic, SourceStatus.FAILED, 7000, 90, now),  # refused: never counted
                    source(topic, SourceStatus.READY, 3000, 10, period.start - timedelta(days=1)),
                    source(bobs, SourceStatus.READY, 400, 2, now),
                ]
            )
            ada_id, bob_id = ada.id, bob.id
        upgrade(url)
        with Session(engine) as session:
            assert repository.usage(session, ada_id, period.start, period.end) == (1250, 34)
            earlier = (period.start - timedelta(days=20), period.start)
            assert repository.usage(session, ada_id, *earlier) == (3000, 10)
            assert repository.usage(session, bob_id, period.start, period.end) == (400, 2)
            counted = {
                s.id for s in session.scalars(select(Source)) if s.status != SourceStatus.FAILED
            }
            assert set(session.scalars(select(SourceUsage.source_id))) == counted
    finally:
        upgrade(url)  # at head again for the next test, whatever happened
        engine.dispose()
