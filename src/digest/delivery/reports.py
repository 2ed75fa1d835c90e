"""Read-only questions about an issue's ledger, for the CLI and the web: counts and reasons."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest.errors import NotFound
from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, Issue, LedgerTally


def issue_counts(session: Session, issue_id: int) -> dict[str, int]:
    """Deliveries of an issue by status (every status present, zero when none)."""
    query = (
        select(Delivery.status, func.count())
        .where(col(Delivery.issue_id) == issue_id)
        .group_by(col(Delivery.status))
    )
    counts = {status.value: 0 for status in DeliveryStatus}
    counts.update({str(status): int(n) for status, n in session.exec(query).all()})
    for label, n in tallies(session, issue_id, "status"):  # a compacted ledger's counts
        counts[label] = counts.get(label, 0) + n
    return counts


def tallies(session: Session, issue_id: int, kind: str) -> list[tuple[str, int]]:
    query = select(LedgerTally.label, LedgerTally.count).where(
        col(LedgerTally.issue_id) == issue_id, col(LedgerTally.kind) == kind
    )
    return [(label, int(n)) for label, n in session.exec(query).all()]


def batch_counts(session: Session, issue_id: int) -> dict[str, int]:
    query = (
        select(Batch.status, func.count())
        .where(col(Batch.issue_id) == issue_id)
        .group_by(col(Batch.status))
    )
    counts = {status.value: 0 for status in BatchStatus}
    counts.update({str(status): int(n) for status, n in session.exec(query).all()})
    return counts


def failure_reasons(session: Session, issue_id: int, *, limit: int = 10) -> list[tuple[str, int]]:
    """The most common reasons deliveries failed, with how many each."""
    query = (
        select(Delivery.error, func.count())
        .where(col(Delivery.issue_id) == issue_id, col(Delivery.status) == DeliveryStatus.FAILED)
        .group_by(col(Delivery.error))
        .order_by(func.count().desc())
        .limit(limit)
    )
    found: Counter[str] = Counter()
    for error, n in session.exec(query).all():
        found[error or "unknown"] += int(n)
    # a compacted ledger's reasons (one being compacted has both, for the same reasons)
    for label, n in tallies(session, issue_id, "failure"):
        found[label] += n
    return sorted(found.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]


def issue_by_number(session: Session, number: int) -> Issue:
    issue = session.exec(select(Issue).where(col(Issue.number) == number)).first()
    if issue is None:
        raise NotFound(f"there is no issue #{number}; see: digest issue list")
    return issue
