"""Run Alembic from code, so `digest db upgrade` needs no alembic.ini in the working directory;
and say where a database's schema stands against this code (`schema_state`), so that
`digest serve`, the scheduler, `/healthz` and `digest doctor` refuse or report a database
that was never migrated, or is behind or ahead of the code, instead of failing per request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from digest.paths import MIGRATIONS

# Alembic (with Mako and Pygments) is imported by the functions that use it: importing this
# module for SchemaState, as every `digest` command's startup path may, costs nothing.
if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Engine


class SchemaState(StrEnum):
    CURRENT = "current"  # at this code's newest revision
    BEHIND = "behind"  # migrations are pending: digest db upgrade
    AHEAD = "ahead"  # migrated by newer code: a revision this code does not know
    MISSING = "missing"  # never migrated: no tables
    UNVERSIONED = "unversioned"  # tables without Alembic's record (made by create_all)

    @property
    def usable(self) -> bool:
        return self in (SchemaState.CURRENT, SchemaState.UNVERSIONED)


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def current_head() -> str | None:
    return scripts().get_current_head()


def database_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded in the database; None if it recorded none."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_state(engine: Engine) -> SchemaState:
    """Where the database stands against this code (raises if it cannot be reached)."""
    from alembic.migration import MigrationContext
    from alembic.util.exc import CommandError
    from sqlalchemy import inspect

    with engine.execution_options(sqlite_read_only=True).connect() as connection:  # a read
        revision = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    if revision is None:
        return SchemaState.UNVERSIONED if tables - {"alembic_version"} else SchemaState.MISSING
    if revision == current_head():
        return SchemaState.CURRENT
    try:
        known = scripts().get_revision(revision) is not None
    except CommandError:
        known = False
    return SchemaState.BEHIND if known else SchemaState.AHEAD


def describe_state(state: SchemaState, revision: str | None) -> str:
    """One line an operator can act on."""
    head = current_head()
    return {
        SchemaState.CURRENT: f"schema is current (revision {head})",
        SchemaState.UNVERSIONED: "schema has tables but no Alembic revision (made by create_all)",
        SchemaState.MISSING: "database was never migrated: run digest db upgrade",
        SchemaState.BEHIND: (
            f"schema is at revision {revision}, this code needs {head}: run digest db upgrade"
        ),
        SchemaState.AHEAD: (
            f"schema is at revision {revision}, which this code does not know (newer code "
            f"migrated it; this code needs {head}): run the matching version"
        ),
    }[state]
