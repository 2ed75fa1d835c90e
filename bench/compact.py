"""`digest ledger compact` on SQLite and PostgreSQL: chunked against one transaction.

Per engine, one store of BENCH_READERS confirmed readers and an issue sent to them all (every
tenth delivery failed), then BENCH_ROUNDS interleaved rounds, each from a fresh ledger:

- ours: `compact.compact_issue`, COMPACT_CHUNK delivery ids per transaction;
- one transaction: the same statements over the whole issue at once (what it did before),
  the database's own limit for this work.

For each: the whole time, the longest transaction (on SQLite, how long the site's writes may
wait for the write lock), and the p99 of a small write transaction another connection makes
every 20 ms meanwhile (a signup's store, as the site's signup writer makes it: on SQLite it
polls for the write lock every millisecond).

Environment: BENCH_READERS (200000), BENCH_ROUNDS (3), BENCH_ENGINES (sqlite,postgres),
BENCH_COMPACT_CHUNK (COMPACT_CHUNK), BENCH_PG_URL (postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.enqueue import add_readers, bench_settings, database, empty, p99, vacuum  # noqa: E402
from digest import catalog, delivery, throttle  # noqa: E402
from digest.db import make_engine, session_scope, write_polling  # noqa: E402
from digest.delivery import compact  # noqa: E402
from digest.demo import sample_documents  # noqa: E402
from digest.models import Issue, IssueStatus, metadata  # noqa: E402

READERS = int(os.environ.get("BENCH_READERS", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ENGINES = os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",")
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CHUNK = int(os.environ.get("BENCH_COMPACT_CHUNK", str(compact.COMPACT_CHUNK)))
ONE_TRANSACTION = [
    "INSERT INTO ledger_tally (issue_id, kind, label, count) SELECT :issue, 'status', status, "
    "COUNT(*) FROM delivery WHERE issue_id = :issue GROUP BY status",
    "INSERT INTO ledger_tally (issue_id, kind, label, count) SELECT :issue, 'failure', "
    "COALESCE(error, 'unknown'), COUNT(*) FROM delivery WHERE issue_id = :issue "
    "AND status = 'failed' GROUP BY COALESCE(error, 'unknown')",
    "DELETE FROM delivery WHERE issue_id = :issue",
    "DELETE FROM batch WHERE issue_id = :issue",
]


def sent_ledger(engine: Engine, issue_id: int) -> None:
    """A fresh ledger: every reader's delivery, in batches of 100, sent (a tenth failed)."""
    with engine.begin() as connection:
        empty(connection, "delivery", "batch", "ledger_tally")
        connection.execute(
            text(
                "INSERT INTO batch (issue_id, number, idempotency_key, status, attempts, "
                "next_attempt_at, created_at) SELECT :issue, id / 100, "
                "'bench-' || :issue || '-' || (id / 100), 'done', 1, :now, :now "
                "FROM subscriber WHERE id % 100 = 0 OR id = 1"
            ),
            {"issue": issue_id, "now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO delivery (issue_id, subscriber_id, batch_id, variant_id, name, "
                "status, error, attempts, created_at) SELECT :issue, s.id, b.id, NULL, s.name, "
                "CASE WHEN s.id % 10 = 0 THEN 'failed' ELSE 'sent' END, "
                "CASE WHEN s.id % 10 = 0 THEN 'mailbox full' END, 1, :now "
                "FROM subscriber s JOIN batch b ON b.issue_id = :issue "
                "AND b.number = s.id / 100"
            ),
            {"issue": issue_id, "now": NOW},
        )
        connection.execute(
            update(Issue.__table__)  # type: ignore[attr-defined]
            .where(Issue.__table__.c.id == issue_id)  # type: ignore[attr-defined]
            .values(status=IssueStatus.SENT, sent_at=NOW)
        )
    vacuum(engine)


def ours(engine: Engine, issue_id: int) -> tuple[float, float]:
    """(seconds in all, longest transaction) of the chunked compaction."""
    longest, last = 0.0, time.perf_counter()
    started = last

    def tick(_rows: int) -> None:
        nonlocal longest, last
        now = time.perf_counter()
        longest, last = max(longest, now - last), now

    compact.compact_issue(engine, issue_id, chunk=CHUNK, progress=tick)
    return time.perf_counter() - started, longest


def one_transaction(engine: Engine, issue_id: int) -> tuple[float, float]:
    started = time.perf_counter()
    with engine.begin() as connection:
        for statement in ONE_TRANSACTION:
            connection.execute(text(statement), {"issue": issue_id})
    took = time.perf_counter() - started
    return took, took


def with_writes_beside(url: str, work: Callable[[], tuple[float, float]]) -> tuple[float, ...]:
    """`work`'s figures, and the p99 ms of a small write transaction every 20 ms meanwhile."""
    sqlite = url.startswith("sqlite")
    # as the site's signup writer does: on SQLite it polls for the write lock every ms
    writer = make_engine(url, busy_timeout_ms=0) if sqlite else make_engine(url)
    stop, waits = threading.Event(), []

    def store(session: Session, n: int) -> None:
        throttle.allow(session, f"bench-compact:{n}", limit=10, window=HOUR, now=NOW)

    def write() -> None:
        n = 0
        while not stop.is_set():
            asked = time.perf_counter()
            if sqlite:
                write_polling(writer, partial(store, n=n))
            else:
                with session_scope(writer) as session:
                    store(session, n)
            waits.append(time.perf_counter() - asked)
            n += 1
            stop.wait(0.02)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        took, longest = work()
    finally:
        stop.set()
        thread.join()
        writer.dispose()
    return took, longest, p99(waits) * 1000


def run_engine(kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        settings = bench_settings(url, Path(tmp))
        engine = make_engine(url)
        metadata.create_all(engine)
        with session_scope(engine) as session:
            catalog.import_comparisons(session, sample_documents(), now=NOW)
        add_readers(engine, READERS)
        with session_scope(engine) as session:
            issue = delivery.open_period_issue(session, settings, now=NOW)
            issue_id = issue.id
        assert issue_id is not None
        figures: dict[str, list[tuple[float, ...]]] = {"ours": [], "one": []}
        for _ in range(ROUNDS):
            for name, work in (("ours", ours), ("one", one_transaction)):
                sent_ledger(engine, issue_id)
                figures[name].append(with_writes_beside(url, partial(work, engine, issue_id)))
                folded(engine, issue_id)
        report(kind, figures)
        engine.dispose()


def folded(engine: Engine, issue_id: int) -> None:
    """Every reader counted once, no row left: the figures are of work done right."""
    with engine.connect() as connection:
        counted = connection.execute(
            text("SELECT SUM(count) FROM ledger_tally WHERE issue_id = :i AND kind = 'status'"),
            {"i": issue_id},
        ).scalar_one()
        left = connection.execute(text("SELECT COUNT(*) FROM delivery")).scalar_one()
    assert (counted, left) == (READERS, 0), (counted, left)


def report(kind: str, figures: dict[str, list[tuple[float, ...]]]) -> None:
    def spread(name: str, index: int, scale: float = 1.0) -> str:
        values = [f[index] * scale for f in figures[name]]
        return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

    ratios = [o[0] / b[0] for o, b in zip(figures["ours"], figures["one"], strict=True)]
    print(
        f"[{kind}] compact {READERS:,} delivery rows, {ROUNDS} rounds:\n"
        f"  ours (chunks of {CHUNK:,}): {spread('ours', 0)} s, longest "
        f"transaction {spread('ours', 1)} s, a write beside it p99 {spread('ours', 2)} ms\n"
        f"  one transaction:           {spread('one', 0)} s, longest transaction "
        f"{spread('one', 1)} s, a write beside it p99 {spread('one', 2)} ms\n"
        f"  time ours/one: {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f})"
    )


def main() -> None:
    print(f"{READERS:,} readers, {ROUNDS} interleaved rounds, engines {', '.join(ENGINES)}")
    for kind in ENGINES:
        run_engine(kind)


if __name__ == "__main__":
    main()
