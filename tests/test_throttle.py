"""Rate limits counted in the database: exact under concurrency, per fixed window, swept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import throttle
from digest.db import session_scope
from digest.models import RateCounter

NOW = datetime(2026, 11, 16, 8, 0, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def allow(engine: Engine, key: str, *, limit: int = 3, now: datetime = NOW) -> bool:
    with session_scope(engine) as session:
        return throttle.allow(session, key, limit=limit, window=HOUR, now=now)


def test_limit_per_key_and_window(engine: Engine) -> None:
    assert [allow(engine, "ip:a") for _ in range(4)] == [True, True, True, False]
    assert allow(engine, "ip:b")
    assert allow(engine, "ip:a", now=NOW + HOUR)  # the next window starts afresh


def test_concurrent_hits_are_counted_exactly(engine: Engine) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        outcome = allow(engine, "addr:x", limit=5)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=hit) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5 and len(results) == 12


def test_old_windows_are_swept(engine: Engine) -> None:
    allow(engine, "ip:old", now=NOW - timedelta(days=3))
    allow(engine, "ip:new")
    with session_scope(engine, read_only=True) as session:
        keys = list(session.exec(select(RateCounter.key)).all())
    assert keys == ["ip:new"]
