"""Fixed-window rate limits counted in the database, so they hold across processes and restarts.

`allow` adds one hit to the key's current window with a single upsert (INSERT ... ON CONFLICT
DO UPDATE ... RETURNING), which both SQLite and PostgreSQL run atomically: two processes counting
the same key at once can never both see the last free slot. `first_use` makes a one-time
token's first presentation win the same way. `client_key` names who is counted: an IPv4
address, or an IPv6 /64 (one subscriber line holds a whole /64, so counting /128s counts
nothing).
"""

from __future__ import annotations

import ipaddress
import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from digest.models.events import RateCounter

# Counters older than this are of no use to any window we use; they are swept as new ones start,
# at most once per SWEEP_EVERY per process: every new address starts a window of its own, and a
# DELETE per signup would hold the write lock for nothing.
KEEP_COUNTERS = timedelta(days=2)
SWEEP_EVERY = timedelta(minutes=10)
_last_sweep: list[datetime] = []  # when this process last swept (by the callers' `now`)
IPV6_PREFIX = 64


class LocalLimit:
    """Fixed-window counts in this process's memory: a first line that refuses one client's
    flood before it costs a write. Not exact (every process counts its own); the exact count
    is the store's (`allow`), taken where the work is done. At most `max_keys` clients are
    counted per window; past that a new one passes here and meets the store's count."""

    def __init__(self, window: timedelta, *, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._lock = threading.Lock()  # web requests count from the thread pool
        self._start: datetime | None = None
        self._hits: dict[str, int] = {}

    def allow(self, key: str, *, limit: int, now: datetime) -> bool:
        """Count one request for `key`; True while this window has seen at most `limit`."""
        start = window_start(now, self.window)
        with self._lock:
            if start != self._start:
                self._start, self._hits = start, {}
            if key not in self._hits and len(self._hits) >= self.max_keys:
                return True
            hits = self._hits[key] = self._hits.get(key, 0) + 1
        return hits <= limit


def valid_ip(raw: str | None) -> str | None:
    """`raw` as a canonical IP address (IPv4-mapped IPv6 as IPv4), or None if it is not one."""
    try:
        address = ipaddress.ip_address((raw or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Address(int(address)))  # without a %zone: that is any text
    return str(address)


def client_key(ip: str | None) -> str:
    """Whom a client's requests are counted against: its IPv4 address or its IPv6 /64."""
    address = valid_ip(ip)
    if address is None:
        return "unknown"
    if ":" in address:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return address


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window `now` falls in (windows are aligned to the Unix epoch)."""
    seconds = int(window.total_seconds())
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)


def allow(session: Session, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one request for `key`; True while the window has seen at most `limit` of them."""
    start = window_start(now, window)
    hits = _increment(session, key[:100], start)
    if hits == 1 and _sweep_due(now):
        _sweep(session, now=now)
    return hits <= limit


def hits(session: Session, key: str, *, window: timedelta, now: datetime) -> int:
    """How many hits `key` has in the window `now` falls in (counts nothing itself)."""
    table: Any = RateCounter.__table__  # type: ignore[attr-defined]
    found = session.execute(
        select(table.c.hits).where(
            table.c.key == key[:100], table.c.window_start == window_start(now, window)
        )
    ).scalar_one_or_none()
    return int(found or 0)


def first_use(session: Session, key: str, *, issued: datetime) -> bool:
    """True the first time a one-time token (`key`, made at `issued`) is presented, False ever
    after; the record is swept with the counters, once such a token has long expired."""
    return _increment(session, key[:100], issued) == 1


def was_used(session: Session, key: str, *, issued: datetime) -> bool:
    """Whether `first_use` has seen this one-time token (a read: nothing is recorded)."""
    found = session.execute(
        select(RateCounter.hits).where(  # type: ignore[call-overload]
            col(RateCounter.key) == key[:100], col(RateCounter.window_start) == issued
        )
    ).first()
    return found is not None


def _increment(session: Session, key: str, start: datetime) -> int:
    statement = _upsert(session.get_bind().dialect.name)
    # Core on the session's connection: the statement names no ORM entity, nothing to flush.
    found = session.connection().execute(statement, {"key": key, "start": start})
    return int(found.scalar_one())


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    """The counting upsert for `dialect`, built once: every signup counts three times, and
    building it cost more than running it."""
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = RateCounter.__table__  # type: ignore[attr-defined]
    return (
        insert(table)
        .values(
            key=bindparam("key", type_=table.c.key.type),
            window_start=bindparam("start", type_=table.c.window_start.type),
            hits=1,
        )
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"hits": table.c.hits + 1}
        )
        .returning(table.c.hits)
    )


def _sweep_due(now: datetime) -> bool:
    """True, and noted, if this process has not swept within SWEEP_EVERY of `now` (a `now`
    before the last sweep, as tests replay time, counts as due)."""
    last = _last_sweep[-1] if _last_sweep else None
    if last is not None and last <= now < last + SWEEP_EVERY:
        return False
    _last_sweep[:] = [now]
    return True


def _sweep(session: Session, *, now: datetime) -> None:
    session.execute(delete(RateCounter).where(col(RateCounter.window_start) < now - KEEP_COUNTERS))
