"""Where a database's schema stands against the code, on both engines."""

from __future__ import annotations

from sqlalchemy import text

from digest import migrate
from digest.config import Settings
from digest.db import make_engine
from digest.migrate import SchemaState
from digest.models import metadata


def test_schema_states(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        assert migrate.schema_state(engine) is SchemaState.MISSING
        migrate.upgrade(settings.database_url)
        assert migrate.schema_state(engine) is SchemaState.CURRENT
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        assert migrate.schema_state(engine) is SchemaState.AHEAD
        assert "9999_future" in migrate.describe_state(SchemaState.AHEAD, "9999_future")
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))
        assert migrate.schema_state(engine) is SchemaState.UNVERSIONED
    finally:
        engine.dispose()


def test_tables_made_without_alembic_are_unversioned_and_usable(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    try:
        state = migrate.schema_state(engine)
    finally:
        engine.dispose()
    assert state is SchemaState.UNVERSIONED and state.usable
