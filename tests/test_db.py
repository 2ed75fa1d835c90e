"""The store: SQLite pragmas, aware UTC times on both engines, migrations that match the models."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import StatementError
from sqlmodel import select

from digest import migrate
from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.errors import ConfigError
from digest.models import Comparison, metadata


def test_sqlite_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30000
        assert pragma("synchronous") == 1  # NORMAL


def test_times_come_back_aware_utc(engine: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    with session_scope(engine) as session:
        session.add(
            Comparison(
                slug="a-vs-b", title="A vs B", published_at=datetime(2026, 1, 5, 9, tzinfo=paris)
            )
        )
    with session_scope(engine) as session:
        stored = session.exec(select(Comparison)).one()
    assert stored.published_at == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert stored.published_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), session_scope(engine) as session:
        session.add(Comparison(slug="a-vs-b", title="A vs B", published_at=datetime(2026, 1, 5, 9)))
        session.flush()


def test_unknown_database_scheme_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="must start with sqlite:/// or postgresql"):
        make_engine("mysql://root@localhost/x")


def test_migrations_match_the_models(settings: Settings) -> None:
    """On each engine: upgrade from empty, then autogenerate must find nothing to change."""
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            tables = set(inspect(connection).get_table_names())
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert differences == []
    assert set(metadata.tables) <= tables
    assert version == migrate.current_head()


def test_upgrade_is_idempotent(settings: Settings) -> None:
    migrate.upgrade(settings.database_url)
    migrate.upgrade(settings.database_url)


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The store holds addresses, IPs and the secrets of never-expiring links: 0600, whatever
    the umask, for the database and the WAL and shared-memory files SQLite adds beside it."""
    path = tmp_path / "fresh" / "subscribers.db"
    path.parent.mkdir()
    old_umask = os.umask(0o022)
    try:
        migrate.upgrade(f"sqlite:///{path}")
        engine = make_engine(f"sqlite:///{path}")
        with session_scope(engine) as session:
            session.add(Comparison(slug="a-vs-b", title="A vs B", published_at=datetime.now(UTC)))
        with engine.connect() as connection:  # keeps -wal and -shm while we look
            connection.execute(text("SELECT count(*) FROM comparison"))
            files = sorted(path.parent.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        engine.dispose()
    finally:
        os.umask(old_umask)
    assert "subscribers.db" in modes
    assert all(mode == 0o600 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}


@pytest.fixture
def pooled_engine(settings: Settings) -> Iterator[Engine]:
    """The web app's engine (pooled) on the test's database (both kinds)."""
    engine = make_engine(settings.database_url, pooled=True)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_pooled_sqlite_engine_opens_each_connection_once(sqlite_url: str) -> None:
    """The PRAGMAs run when a connection is made, not on every session."""
    engine = make_engine(sqlite_url, pooled=True)
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    try:
        metadata.create_all(engine)
        for _ in range(5):
            with session_scope(engine, read_only=True) as session:
                session.exec(select(Comparison)).all()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()
    assert len(opened) == 1


def test_a_pooled_connection_comes_back_with_no_transaction_open(pooled_engine: Engine) -> None:
    """A session that fails half-way through a write leaves nothing behind for the next."""
    with pytest.raises(RuntimeError), session_scope(pooled_engine) as session:
        session.add(Comparison(slug="a-vs-b", title="A vs B", published_at=datetime.now(UTC)))
        session.flush()
        raise RuntimeError("the request failed")
    with session_scope(pooled_engine) as session:
        assert session.exec(select(Comparison)).all() == []
        session.add(Comparison(slug="c-vs-d", title="C vs D", published_at=datetime.now(UTC)))
    with session_scope(pooled_engine, read_only=True) as session:
        assert [c.slug for c in session.exec(select(Comparison))] == ["c-vs-d"]


def test_pooled_sqlite_reads_begin_deferred_and_writes_immediate(sqlite_url: str) -> None:
    """A read-only session does not take the write lock (a writer elsewhere goes on); a write
    session takes it at BEGIN (another writer waits on the busy timeout, never half-way)."""
    engine = make_engine(sqlite_url, pooled=True)
    metadata.create_all(engine)
    other = make_engine(sqlite_url)
    try:
        with session_scope(engine, read_only=True) as session:
            session.exec(select(Comparison)).all()
            with session_scope(other) as writer:  # would wait 30 s on a held write lock
                writer.add(Comparison(slug="a-vs-b", title="A", published_at=datetime.now(UTC)))
        probe = sqlite3.connect(make_url(sqlite_url).database or "", timeout=0)
        try:
            with (
                engine.connect() as connection,
                connection.begin(),
                pytest.raises(sqlite3.OperationalError, match="locked"),
            ):
                probe.execute("BEGIN IMMEDIATE")
        finally:
            probe.close()
    finally:
        engine.dispose()
        other.dispose()


def test_a_forked_child_never_uses_its_parents_pooled_connection(pooled_engine: Engine) -> None:
    with pooled_engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        parents = connection.connection.dbapi_connection
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: one connection, then report whether it was the parent's
        try:
            with pooled_engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
                reused = connection.connection.dbapi_connection is parents
            os.write(writer, b"reused" if reused else b"fresh")
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 16)
    os.close(reader)
    os.waitpid(child, 0)
    assert answer == b"fresh"
    with pooled_engine.connect() as connection:  # the parent's own is still good
        assert connection.connection.dbapi_connection is parents
