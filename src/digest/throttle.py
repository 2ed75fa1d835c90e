"""Fixed-window rate limits counted in the database, so they hold across processes and restarts.

`allow` adds one hit to the key's current window with a single upsert (INSERT ... ON CONFLICT
DO UPDATE ... RETURNING), which both SQLite and PostgreSQL run atomically: two processes counting
the same key at once can never both see the last free slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from digest.models.events import RateCounter

# Counters older than this are of no use to any window we use; they are swept as new ones start.
KEEP_COUNTERS = timedelta(days=2)


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window `now` falls in (windows are aligned to the Unix epoch)."""
    seconds = int(window.total_seconds())
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)


def allow(session: Session, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one request for `key`; True while the window has seen at most `limit` of them."""
    start = window_start(now, window)
    hits = _increment(session, key[:100], start)
    if hits == 1:
        _sweep(session, now=now)
    return hits <= limit


def _increment(session: Session, key: str, start: datetime) -> int:
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = RateCounter.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(key=key, window_start=start, hits=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"hits": table.c.hits + 1}
        )
        .returning(table.c.hits)
    )
    return int(session.execute(statement).scalar_one())


def _sweep(session: Session, *, now: datetime) -> None:
    session.execute(delete(RateCounter).where(col(RateCounter.window_start) < now - KEEP_COUNTERS))
