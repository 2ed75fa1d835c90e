"""Compaction: an old issue's ledger folded into per-issue counts (`digest ledger compact`).

A year of weekly sends to a million readers is 52 million delivery rows (~110-170 bytes each
with their indexes). Once an issue is sent and older than the operator says, its deliveries,
their provider marks and its batches are replaced by `ledger_tally` rows: how many deliveries
ended in each status and the failure reasons with their counts, which is what the desk and
`digest issue show` report per issue. A reader's data export then lists only the issues whose
ledger is still kept (the service no longer holds the rest per reader).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest.db import session_scope
from digest.delivery.enqueue import lock_issue
from digest.models import Batch, Delivery, DeliveryStatus, Issue, IssueStatus, LedgerTally

__all__ = ["COMPACT_CHUNK", "compact_issue", "compactable", "rows_of", "started"]

COMPACT_CHUNK = 10_000  # delivery ids per transaction
# On SQLite, a pause after each chunk: the site's writers waiting for the write lock take it
# (they poll every millisecond), instead of the next chunk taking it straight back.
SQLITE_TURN_SECONDS = 0.01

# A chunk's counts added to the issue's tallies (the tally rows exist after the first chunk).
ADD_STATUSES = text(
    "INSERT INTO ledger_tally (issue_id, kind, label, count) "
    "SELECT :issue, 'status', status, COUNT(*) FROM delivery "
    "WHERE issue_id = :issue AND id >= :low AND id < :high GROUP BY status "
    "ON CONFLICT (issue_id, kind, label) DO UPDATE SET count = ledger_tally.count + excluded.count"
)
ADD_FAILURES = text(
    "INSERT INTO ledger_tally (issue_id, kind, label, count) "
    "SELECT :issue, 'failure', COALESCE(error, 'unknown'), COUNT(*) FROM delivery "
    "WHERE issue_id = :issue AND id >= :low AND id < :high AND status = :failed "
    "GROUP BY COALESCE(error, 'unknown') "
    "ON CONFLICT (issue_id, kind, label) DO UPDATE SET count = ledger_tally.count + excluded.count"
)


def compactable(session: Session, *, sent_before: datetime) -> list[int]:
    """Sent issues older than `sent_before` that still have per-reader rows."""
    has_rows = select(Delivery.id).where(col(Delivery.issue_id) == Issue.id).exists()
    query = (
        select(Issue.id)
        .where(col(Issue.status) == IssueStatus.SENT, col(Issue.sent_at) < sent_before, has_rows)
        .order_by(col(Issue.number))
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def started(session: Session, issue_id: int) -> bool:
    """Whether a compaction of this issue has begun (some of its rows are counts already)."""
    query = select(LedgerTally.issue_id).where(col(LedgerTally.issue_id) == issue_id).limit(1)
    return session.exec(query).first() is not None


def rows_of(session: Session, issue_ids: list[int]) -> int:
    """How many per-reader rows these issues still have (a progress bar's total)."""
    query = select(func.count()).where(col(Delivery.issue_id).in_(issue_ids))
    return int(session.exec(query).one()) if issue_ids else 0


def compact_issue(
    engine: Engine,
    issue_id: int,
    *,
    chunk: int = COMPACT_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fold one issue's ledger into counts, `chunk` delivery ids per transaction (`progress`
    hears the rows of each); the rows removed. Its batches go once no delivery is left."""
    with session_scope(engine, read_only=True) as session:
        start, last = session.exec(
            select(func.min(Delivery.id), func.max(Delivery.id)).where(
                col(Delivery.issue_id) == issue_id
            )
        ).one()
    turn = SQLITE_TURN_SECONDS if engine.dialect.name == "sqlite" else 0.0
    removed = 0
    while start is not None and last is not None and start <= last:
        with session_scope(engine) as session:
            folded = _fold(session, issue_id, low=start, high=start + chunk)
        removed += folded
        if progress is not None:
            progress(folded)
        time.sleep(turn)
        start = start + chunk
        if not folded:  # a gap in the issue's ids (rare: they are written in runs): skip it
            start = _next_id(engine, issue_id, start)
    with session_scope(engine) as session:
        session.execute(delete(Batch).where(col(Batch.issue_id) == issue_id))
    return removed


def _next_id(engine: Engine, issue_id: int, start: int) -> int | None:
    """The issue's first delivery id from `start` on; None when none is left."""
    with session_scope(engine, read_only=True) as session:
        query = select(func.min(Delivery.id)).where(
            col(Delivery.issue_id) == issue_id, col(Delivery.id) >= start
        )
        found = session.exec(query).one()
    return int(found) if found is not None else None


def _fold(session: Session, issue_id: int, *, low: int, high: int) -> int:
    """One chunk (delivery ids low..high-1 of the issue) into counts, in one transaction."""
    lock_issue(session, issue_id)  # two compactions of one issue must not count a chunk twice
    params = {"issue": issue_id, "low": low, "high": high, "failed": DeliveryStatus.FAILED.value}
    connection = session.connection()
    connection.execute(ADD_STATUSES, params)
    connection.execute(ADD_FAILURES, params)
    # delivery_mark rows go with their deliveries (ON DELETE CASCADE).
    removed = session.execute(
        delete(Delivery).where(
            col(Delivery.issue_id) == issue_id, col(Delivery.id) >= low, col(Delivery.id) < high
        )
    )
    return int(removed.rowcount)  # type: ignore[attr-defined]
