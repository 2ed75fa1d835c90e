"""Compaction: an old issue's ledger folded into per-issue counts (`digest ledger compact`).

A year of weekly sends to a million readers is 52 million delivery rows (~110-170 bytes each
with their indexes). Once an issue is sent and older than the operator says, its deliveries,
their provider marks and its batches are replaced by `ledger_tally` rows: how many deliveries
ended in each status and the failure reasons with their counts, which is what the desk and
`digest issue show` report per issue. A reader's data export then lists only the issues whose
ledger is still kept (the service no longer holds the rest per reader).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from digest.models import Batch, Delivery, DeliveryStatus, Issue, IssueStatus


def compactable(session: Session, *, sent_before: datetime) -> list[int]:
    """Sent issues older than `sent_before` that still have per-reader rows."""
    has_rows = select(Delivery.id).where(col(Delivery.issue_id) == Issue.id).exists()
    query = (
        select(Issue.id)
        .where(col(Issue.status) == IssueStatus.SENT, col(Issue.sent_at) < sent_before, has_rows)
        .order_by(col(Issue.number))
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def compact_issue(session: Session, issue_id: int) -> int:
    """Fold one issue's ledger into counts, in the caller's transaction; the rows removed."""
    params = {"issue": issue_id, "failed": DeliveryStatus.FAILED.value}
    session.connection().execute(
        text(
            "INSERT INTO ledger_tally (issue_id, kind, label, count) "
            "SELECT :issue, 'status', status, COUNT(*) FROM delivery WHERE issue_id = :issue "
            "GROUP BY status"
        ),
        params,
    )
    session.connection().execute(
        text(
            "INSERT INTO ledger_tally (issue_id, kind, label, count) "
            "SELECT :issue, 'failure', COALESCE(error, 'unknown'), COUNT(*) FROM delivery "
            "WHERE issue_id = :issue AND status = :failed GROUP BY COALESCE(error, 'unknown')"
        ),
        params,
    )
    # delivery_mark rows go with their deliveries (ON DELETE CASCADE).
    removed = session.execute(delete(Delivery).where(col(Delivery.issue_id) == issue_id))
    session.execute(delete(Batch).where(col(Batch.issue_id) == issue_id))
    return int(removed.rowcount)  # type: ignore[attr-defined]
