"""Shared column helpers: every stored time is timezone-aware UTC (see db.UTCDateTime)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData
from sqlmodel import Field, SQLModel

from digest.db import UTCDateTime, utcnow

# Alembic needs stable constraint names, on SQLite above all (batch mode rebuilds tables).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utc_field(*, nullable: bool = False, default_now: bool = False, **kwargs: Any) -> Any:
    """A timezone-aware UTC timestamp column."""
    if default_now:
        kwargs["default_factory"] = utcnow
    elif nullable:
        kwargs.setdefault("default", None)
    return Field(sa_type=UTCDateTime(), nullable=nullable, **kwargs)
