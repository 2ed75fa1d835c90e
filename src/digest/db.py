"""Engine and sessions. SQLite gets the pragmas a small busy service needs; PostgreSQL as is.

Every write transaction on SQLite starts with BEGIN IMMEDIATE, so two writers queue on the
busy timeout instead of failing half-way with "database is locked" when a reader upgrades.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.pool import NullPool, QueuePool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from digest.errors import ConfigError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A pooled SQLite engine keeps this many connections open (the web app's threads share them);
# a burst beyond opens up to POOL_OVERFLOW more, closed again when returned.
POOL_SIZE = 8
POOL_OVERFLOW = 32
# An OperationalError that names the schema is a mistake to report, not an outage to wait out.
SCHEMA_PROBLEMS = ("no such table", "no such column", "has no column named")
T = TypeVar("T")
log = logging.getLogger(__name__)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the engine stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The only place that reads the clock for defaults; domain functions take `now` instead."""
    return datetime.now(UTC)


def make_engine(
    url: str, *, pooled: bool = False, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> Engine:
    """An engine for a `sqlite:///` or `postgresql+psycopg://` URL, configured for this service.

    `pooled` matters on SQLite only (PostgreSQL always pools, with a ping on checkout): the web
    app, one long-lived process answering many small reads, keeps its connections (and their
    PRAGMAs) between requests; the CLI and the send keep one connection per session (NullPool),
    which nothing can leave half-used for a later command."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pooled=pooled, busy_timeout_ms=busy_timeout_ms, **kwargs)
    if url.startswith("postgresql"):
        if url.startswith(("postgresql://", "postgresql+psycopg2://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        _forget_in_forks(engine)
        return engine
    scheme = url.split(":", 1)[0]
    raise ConfigError(
        f"DIGEST_DATABASE_URL must start with sqlite:/// or postgresql+psycopg://, got {scheme!r}"
    )


def _create_private_file(url: str) -> None:
    """Create the database file 0600 before SQLite does (it would use 0644 minus the umask);
    SQLite gives its -wal and -shm files the database file's mode. An existing file is left
    as the operator made it."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # Exists already, or a missing folder and the like: SQLite's own error says it better.
    with contextlib.suppress(OSError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_engine(url: str, *, pooled: bool, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    _create_private_file(url)
    engine = create_engine(
        url, connect_args={"check_same_thread": False}, **_sqlite_pool(pooled), **kwargs
    )
    if pooled:
        _forget_in_forks(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        deferred = connection.get_execution_options().get("sqlite_read_only", False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


def _sqlite_pool(pooled: bool) -> dict[str, Any]:
    """NullPool: each session opens its own connection (4 PRAGMAs, ~0.2 ms), so nothing is ever
    reused. Pooled: a bounded QueuePool; every connection is rolled back when returned (a
    request that failed half-way leaves no open transaction behind), and no ping on checkout
    (a SQLite file does not go away like a server)."""
    if not pooled:
        return {"poolclass": NullPool}
    return {
        "poolclass": QueuePool,
        "pool_size": POOL_SIZE,
        "max_overflow": POOL_OVERFLOW,
        "pool_reset_on_return": "rollback",
        "pool_pre_ping": False,
    }


def _forget_in_forks(engine: Engine) -> None:
    """A connection made in one process is never used in another: a forked child that finds
    its parent's connection in the pool throws it away unused (SQLAlchemy's recipe)."""

    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _check_pid(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError("connection made in another process")


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. Objects stay usable after."""
    bind = engine.execution_options(sqlite_read_only=True) if read_only else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def write_polling(engine: Engine, work: Callable[[Session], T], *, poll: float = 0.001) -> T:
    """Run `work` in one write transaction on an engine made with `busy_timeout_ms=0`: while
    another connection holds SQLite's write lock, try again every `poll` seconds, for up to
    the usual busy timeout. SQLite's own busy handler sleeps longer each time it finds the
    lock taken (up to 100 ms), so a writer that had waited a while noticed a released lock up
    to 100 ms late; this one notices within `poll` (issue 14: signups beside `digest worker`).
    The transaction begins (BEGIN IMMEDIATE) before `work` runs, so `work` runs once."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        with Session(engine, expire_on_commit=False) as session:
            try:
                session.connection()  # BEGIN IMMEDIATE: the write lock, or "locked"
            except OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
                session.rollback()
                time.sleep(poll)
                continue
            try:
                result = work(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result


def row_values(row: Any) -> dict[str, Any]:
    """Every column of a new ORM `row` but its id, for a Core INSERT of it."""
    return {column.key: getattr(row, column.key) for column in _columns(row.__table__)}


def attach_stored(session: Session, row: T, row_id: int) -> T:
    """`row`, just written by a Core INSERT that gave it `row_id`, in the session as if loaded
    from it: no flush writes it again (a flush for one new row costs several times the
    statement, which matters on paths run per signup)."""
    row.id = row_id  # type: ignore[attr-defined]
    make_transient_to_detached(row)
    session.add(row)
    return row


@lru_cache(maxsize=16)
def _columns(table: Any) -> tuple[Any, ...]:
    return tuple(column for column in table.columns if column.key != "id")


def _locked(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig or exc).lower()


def check_database(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query. A read (plain BEGIN on SQLite): a
    health probe must not queue behind a writer for the write lock."""
    with engine.execution_options(sqlite_read_only=True).connect() as connection:
        connection.execute(text("SELECT 1"))


def store_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is away for now (restarting, unreachable, read-only,
    locked past the busy timeout) rather than that the statement or the schema is wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    reason = str(exc.orig or exc).lower()
    return not any(problem in reason for problem in SCHEMA_PROBLEMS)


def in_store(
    engine: Engine,
    work: Callable[[Session], T],
    *,
    patience: float,
    read_only: bool = False,
    what: str = "the send",
) -> T:
    """Run `work` in one transaction; while the database is away, roll back, wait and run it
    again, for up to `patience` seconds. Then StoreUnavailable (nothing is lost: a transaction
    that failed wrote nothing, and the ledger still holds whatever was not recorded)."""
    started, pause, warned = time.monotonic(), 0.2, False
    while True:
        try:
            with session_scope(engine, read_only=read_only) as session:
                result = work(session)
        except Exception as exc:
            if not store_unavailable(exc):
                raise
            waited = time.monotonic() - started
            if waited >= patience:
                raise StoreUnavailable(
                    f"database unavailable for {waited:.0f} s ({_first_line(exc)}); nothing "
                    f"was lost: run it again to resume {what}"
                ) from exc
            if not warned:
                log.warning(
                    "database unavailable (%s): %s waits up to %.0f s and reconnects",
                    _first_line(exc),
                    what,
                    patience,
                )
                warned = True
            time.sleep(min(pause, max(0.0, patience - waited)))
            pause = min(pause * 2, 2.0)
            continue
        if warned:
            log.warning("database reachable again after %.1f s", time.monotonic() - started)
        return result


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0][:200] if lines else type(orig).__name__
