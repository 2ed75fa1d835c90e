"""The store: SQLite pragmas, aware UTC times on both engines, migrations that match the models."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
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
