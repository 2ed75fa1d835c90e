"""The audit log: who did what to which thing, and when, written in the caller's transaction.

Text from outside (an address, a reason) is stored without control characters and cut to the
column, so an entry can be shown on a page or a terminal as it is.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from digest.models import AuditEntry
from digest.models.desk import MAX_ACTOR
from digest.text import strip_controls

MAX_TARGET = 100
MAX_DETAIL = 1000
DEFAULT_PAGE = 50


def _clean(value: str, limit: int) -> str:
    return " ".join(strip_controls(value).split())[:limit]


def record_audit(
    session: Session, actor: str, action: str, target: str = "", detail: str = "", *, now: datetime
) -> AuditEntry:
    """Add an entry; it commits (or rolls back) with the change it describes."""
    entry = AuditEntry(
        at=now,
        actor=_clean(actor, MAX_ACTOR),
        action=_clean(action, 30),
        target=_clean(target, MAX_TARGET),
        detail=_clean(detail, MAX_DETAIL),
    )
    session.add(entry)
    session.flush()
    return entry


def recent_audit(
    session: Session,
    limit: int = DEFAULT_PAGE,
    target: str | None = None,
    *,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """The newest entries first (for one `target` when given); `before_id` pages on: pass the
    last id of the previous page (keyset paging stays fast however long the log grows)."""
    query = select(AuditEntry)
    if target is not None:
        query = query.where(col(AuditEntry.target) == target)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    return list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all())
