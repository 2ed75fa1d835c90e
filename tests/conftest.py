"""Shared fixtures only (nothing imports this file): real SQLite and real PostgreSQL, settings in
a temporary folder. Helpers live in tests/support/.

Store tests take the `engine` fixture and run twice, once per engine. PostgreSQL's URL comes from
DIGEST_TEST_POSTGRES_URL; each test gets its own schema, dropped afterwards. Under CI=true an
unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import make_engine
from digest.models import metadata
from tests.support.settings import make_test_settings

PG_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_or_skip() -> None:
    try:
        probe = create_engine(PG_URL)
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:
        message = f"PostgreSQL at {PG_URL} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    _postgres_or_skip()
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def postgres_schema_url(admin: Engine) -> tuple[str, str]:
    """A fresh schema and a URL whose connections use it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def drop_schema(admin: Engine, schema: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'subscribers.db'}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    admin = request.getfixturevalue("postgres_admin")
    schema, url = postgres_schema_url(admin)
    yield url
    drop_schema(admin, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind, one per test."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_test_settings(tmp_path, database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A migrated-by-create_all engine on the test's database (both kinds)."""
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_test_settings(tmp_path, sqlite_url)


@pytest.fixture
def sqlite_engine(sqlite_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(sqlite_settings.database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()
