"""Engine, sessions and the shared declarative base.

SQLite runs in WAL mode with a busy timeout. Write transactions start with BEGIN IMMEDIATE so a
read never has to upgrade to a write lock mid-transaction (the usual "database is locked");
read-only sessions keep SQLite's deferred BEGIN so readers do not queue behind writers.

On PostgreSQL, a request's transaction runs on the event loop (`Database.run`): the same
synchronous ORM code, in a greenlet that yields to the loop at each round trip to the server
(SQLAlchemy's AsyncSession.run_sync over asyncpg; the threadpool and the worker use psycopg
3). In the threadpool, a process's requests took turns at the GIL in no order: at 8 learners a
study step waited 53 ms (median) for 3.5 ms of work in its thread, and the thread hops and the
GIL's hand-offs cost more CPU than the step itself (docs/benchmarks.md, session 13).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import NamedTuple, TypeVar

import asyncpg
from sqlalchemy import (
    DateTime,
    Engine,
    Insert,
    MetaData,
    Select,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.state import InstanceState
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone, so we store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The pool keeps every connection it opens, up to POOL_SIZE: a connection returned beyond
# pool_size would be closed, and the next request past it would fork a new PostgreSQL backend
# and log in. At 10 kept of 20 admitted, 32 learners opened 24 connections a second; keeping
# the 20 admitted made 22% more study steps a second (docs/benchmarks.md, session 12). The
# headroom's connections are kept too: the ticker's chores, which run beside a full burst of
# requests, otherwise reopened one at nearly every tick.
POOL_SIZE = 30
# Connections kept free of API requests, for the worker, the ticker and long-polls. The same
# sizes hold for the event loop's pool (Database.run), which serves the requests that go that
# way, while the other pool serves the rest (the handlers that run in the threadpool).
POOL_HEADROOM = 10
_POOL = {"pool_pre_ping": True, "pool_size": POOL_SIZE, "max_overflow": 0}


def write_now(session: Session, new: Base, *changed: Base) -> None:
    """INSERT `new` (setting its id; it stays out of the session, as nothing later in the
    transaction needs it there) and UPDATE the columns of each of `changed` changed since it
    was loaded, at once, as Core statements; the updated rows are marked written, so the next
    flush has nothing to do for them. Column attributes only: anything else changed is left to
    the flush as usual.

    The hot path's writes (a study step's log, card and topic) go this way: the ORM's unit of
    work spent about a quarter of the step's CPU (2.6 ms) sorting, organizing and emitting
    these three statements (py-spy, docs/benchmarks.md, session 11). On PostgreSQL they are one
    statement, each write a data-modifying WITH of it: one round trip instead of three
    (session 15). SQLite allows no write in a WITH: one statement each there."""
    insert = _insert_values(new)
    updates = [change for row in changed if (change := _changes(row)).columns]
    connection = session.connection()
    if connection.dialect.name == "postgresql" and updates:
        new_key = _write_together(connection, insert, updates)
    else:
        inserted = connection.execute(_insert_into(insert.table), insert.columns)
        new_key = inserted.inserted_primary_key
        for change in updates:
            params = {**change.columns, **change.key_params("")}
            connection.execute(_update_by_key(change.table), params)
    _set_key(new, new_key)
    for change in updates:
        _mark_written(session, change)


class _Write(NamedTuple):
    table: Table
    columns: dict[str, object]  # the values to write, by column key
    state: InstanceState | None = None  # an UPDATE's row
    attributes: dict[str, object] | None = None  # an UPDATE's values, by attribute key

    def key_params(self, prefix: str) -> dict[str, object]:
        """The row's key as parameters: `{prefix}_pk0` and on."""
        return {f"{prefix}_pk{n}": value for n, value in enumerate(self.state.identity)}


def _insert_values(row: Base) -> _Write:
    state = inspect(row)
    mapper = state.mapper
    # What the row was given; the table's defaults fill the rest, as in a flush.
    values = {
        attr.columns[0].key: state.dict[attr.key]
        for attr in mapper.column_attrs
        if attr.key in state.dict
    }
    return _Write(mapper.local_table, values)


def _changes(row: Base) -> _Write:
    state = inspect(row)
    mapper = state.mapper
    unmodified = state.unmodified
    attributes = {
        attr.key: state.dict[attr.key] for attr in mapper.column_attrs if attr.key not in unmodified
    }
    columns = {mapper.get_property(key).columns[0].key: value for key, value in attributes.items()}
    return _Write(mapper.local_table, columns, state, attributes)


def _set_key(row: Base, key) -> None:
    mapper = inspect(row).mapper
    for column, value in zip(mapper.primary_key, key, strict=True):
        setattr(row, mapper.get_property_by_column(column).key, value)


def _mark_written(session: Session, change: _Write) -> None:
    state = change.state
    row = state.obj()
    for key, value in change.attributes.items():
        set_committed_value(row, key, value)
    if not state.committed_state:
        # Nothing is left to write, but the row still counted as changed, and the next query's
        # autoflush ran the unit of work over it (5% of a study step's CPU, py-spy, session 13).
        state._commit_all(state.dict, session.identity_map)


def _write_together(connection, insert: _Write, updates: list[_Write]) -> tuple:
    """One statement for all the writes; the new row's key as it returns."""
    shape = (
        (insert.table, tuple(insert.columns)),
        tuple((change.table, tuple(change.columns)) for change in updates),
    )
    statement, defaulted = _together_statement(shape)
    params = {f"i_{name}": value for name, value in insert.columns.items()}
    for n, change in enumerate(updates):
        params.update({f"u{n}_{name}": value for name, value in change.columns.items()})
        params.update(change.key_params(f"u{n}"))
    # In a WITH, SQLAlchemy fills in no Python-side default: each is a parameter of ours.
    for name, default in defaulted:
        params[name] = default.arg(None) if default.is_callable else default.arg
    return tuple(connection.execute(statement, params).one())


@cache
def _together_statement(shape: tuple) -> tuple[Select, tuple]:
    """Built once per shape (which tables, which columns): each write a WITH, the statement
    returning the new row's key (PostgreSQL runs every data-modifying WITH, read or not). With
    it, the Python-side defaults the writes take (an INSERT's `default`, an UPDATE's
    `onupdate`), by the parameter each is bound to."""
    new, changes = shape
    writes, defaulted = [], []
    for n, (table, names) in enumerate(changes):
        key = [
            column == bindparam(f"u{n}_pk{i}", type_=column.type)
            for i, column in enumerate(table.primary_key)
        ]
        values = _bound(table, names, f"u{n}_", "onupdate", defaulted)
        writes.append(update(table).where(*key).values(values).cte(f"written_{n}"))
    table, names = new
    values = _bound(table, names, "i_", "default", defaulted)
    inserted = insert(table).values(values).returning(*table.primary_key).cte("written_new")
    return select(*inserted.c).add_cte(*writes), tuple(defaulted)


def _bound(table: Table, names: tuple[str, ...], prefix: str, kind: str, defaulted: list) -> dict:
    """A write's values as parameters: the given columns', then each Python-side default
    (`kind`: "default" or "onupdate") of a column not given."""
    values = {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}
    for column in table.columns:
        default = getattr(column, kind)
        if column.key in values or default is None:
            continue
        if default.is_scalar or default.is_callable:
            values[column.key] = bindparam(prefix + column.key, type_=column.type)
            defaulted.append((prefix + column.key, default))
        elif default.is_clause_element:
            values[column.key] = default.arg
    return values


# Built once per table (building a statement cost about as much as running it): the values
# come as parameters, and the UPDATE sets the columns the parameters name.
@cache
def _insert_into(table: Table) -> Insert:
    return insert(table)


@cache
def _update_by_key(table: Table) -> Update:
    key = [column == bindparam(f"_pk{n}") for n, column in enumerate(table.primary_key)]
    return update(table).where(*key)


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use psycopg 3 for both."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url, echo)
    return create_engine(url, echo=echo, **_POOL)


def _create_sqlite_engine(url: str, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=20,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred-only).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's lower() folds ASCII only; searches fold text as PostgreSQL's lower() does.
        dbapi_conn.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _create_loop_engine(url: str, echo: bool) -> AsyncEngine:
    """The event loop's pool, on asyncpg: a study step cost 19% less CPU of its API process
    than on psycopg's asynchronous connection with its pre-ping (docs/benchmarks.md, session
    15). asyncpg is given the URL in libpq's form, as psycopg is: it reads the ssl* parameters
    as libpq does and sends the others as server settings (README, SRS_DATABASE_URL).

    No pre-ping (asyncpg's costs three round trips): asyncpg reads its socket on the loop
    whenever the connection is idle, so a connection the server closed is known closed, and
    checkout swaps it for a new one without asking the server."""
    dsn = normalize_url(url).replace("postgresql+psycopg://", "postgresql://", 1)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn)

    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=connect,
        echo=echo,
        **{**_POOL, "pool_pre_ping": False},
    )

    @event.listens_for(engine.sync_engine, "checkout")
    def _closed_by_server(dbapi_connection, _record, _proxy) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")  # the pool reconnects

    return engine


def _unicode_lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


class Database:
    """Owns the engine and hands out sessions: read-only ones and writing ones."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine = create_db_engine(url, echo=echo)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        reader_bind = self.engine.execution_options(sqlite_begin="DEFERRED")
        self._reader = sessionmaker(reader_bind, expire_on_commit=False)
        # PostgreSQL's pool for the event loop (see run). It opens no connection until used,
        # and one is bound to the loop that opened it: run is called on the app's loop only.
        self.async_engine: AsyncEngine | None = None
        if not self.is_sqlite:
            self.async_engine = _create_loop_engine(url, echo)
            self._on_loop = async_sessionmaker(self.async_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self, *, write: bool = True) -> Session:
        return (self._writer if write else self._reader)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One short unit of work: commit on success, roll back on any error."""
        with closing(self.session(write=write)) as session, _committing(session):
            yield session

    async def run(self, work: Callable[..., T], *args: object, write: bool = True, **kwargs) -> T:
        """`work(session, *args, **kwargs)` in one short transaction, committed on success and
        rolled back on any error, without blocking the event loop: on PostgreSQL on the loop
        itself (see the module's docstring), on SQLite in the threadpool (its driver has no
        asynchronous I/O: aiosqlite runs a thread per connection, so it would save no hop)."""
        if self.async_engine is None:
            return await run_in_threadpool(self._run_in_thread, work, args, kwargs, write)
        async with self._on_loop() as session:
            return await session.run_sync(_committed, work, args, kwargs)

    def _run_in_thread(self, work: Callable[..., T], args: tuple, kwargs: dict, write: bool) -> T:
        with self.transaction(write=write) as session:
            return work(session, *args, **kwargs)

    def admission(self) -> asyncio.Semaphore:
        """How many API requests may hold a session at once (see kit.deps.database_turn)."""
        if self.is_sqlite:
            return asyncio.Semaphore(1)  # for writes only: SQLite has one writer
        return asyncio.Semaphore(POOL_SIZE - POOL_HEADROOM)

    def ping(self) -> None:
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()

    async def dispose_loop_pool(self) -> None:
        """Close the event loop's connections, on that loop (the app's shutdown)."""
        if self.async_engine is not None:
            await self.async_engine.dispose()


@contextmanager
def _committing(session: Session) -> Iterator[None]:
    """Commit on success, roll back on any error (a cancelled request's too)."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _committed(session: Session, work: Callable[..., T], args: tuple, kwargs: dict) -> T:
    with _committing(session):
        return work(session, *args, **kwargs)
