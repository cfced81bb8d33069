"""Real databases for tests: a migrated SQLite template copied per test, and a fresh
PostgreSQL database per run (created from SRS_TEST_DATABASE_URL) truncated between tests."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from srs.kit.db import normalize_url
from srs.kit.migrate import upgrade
from srs.models import Base

REQUIRE_ALL = os.environ.get("SRS_REQUIRE_ALL") == "1"


def postgres_base_url() -> str | None:
    return os.environ.get("SRS_TEST_DATABASE_URL") or None


def sqlite_template(folder: Path) -> Path:
    template = folder / "template.db"
    upgrade(f"sqlite:///{template}")
    return template


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def create_postgres_database(base_url: str) -> str:
    url = make_url(normalize_url(base_url))
    name = f"srs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(url.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    test_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade(test_url)
    return test_url


def drop_postgres_database(test_url: str) -> None:
    url = make_url(test_url)
    with psycopg.connect(_libpq(url.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def truncate_postgres(test_url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = create_engine(test_url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _libpq(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
