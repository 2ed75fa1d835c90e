"""How each issue did: the ledger's counts, what the provider said, and who left after it.

Per issue: sent, failed, skipped (and still queued) from the ledger; delivered, bounced and
complained from the provider's marks; "unsubscribed after" counts readers whose unsubscribe
came after this issue and before the next one they were sent (the last issue they got is the
one they left after). Rates are of the sent copies. Each figure is one GROUP BY over the issues
asked for, never a query per issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from digest.delivery import batch_counts, failure_reasons, issue_counts
from digest.models import (
    Delivery,
    DeliveryMark,
    DeliveryStatus,
    Issue,
    IssueStatus,
    IssueTally,
    SendRequest,
    Subscriber,
)

FROZEN = (IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT)
# Gmail's bulk-sender rules: keep the spam-complaint rate under 0.1%, never reach 0.3%.
COMPLAINT_LINES = (0.001, 0.003)
LAST_ISSUES = 12
EVENTS_SHOWN = 50
EVENTS_WINDOW = timedelta(days=14)  # bounces and complaints come in the days after a send
EVENTS_SCANNED = 5000  # marks of every issue in that window looked at, at most


@dataclass(frozen=True)
class IssueFigures:
    number: int
    status: str
    subject: str
    frozen_at: datetime | None
    sent_at: datetime | None
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    queued: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0  # readers who left after this issue

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "subject": self.subject,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "queued": self.queued,
            "delivered": self.delivered,
            "bounced": self.bounced,
            "complained": self.complained,
            "unsubscribed_after": self.unsubscribed,
            "bounce_rate": round(self.bounce_rate, 6),
            "complaint_rate": round(self.complaint_rate, 6),
        }


def issue_figures(session: Session, *, limit: int = LAST_ISSUES) -> list[IssueFigures]:
    """The last `limit` issues that went out (or are going out), newest first: a sent issue's
    figures from its tally when it has one (stats/tallies.py), the others counted now."""
    rows = session.execute(
        select_columns(
            col(Issue.id),
            col(Issue.number),
            col(Issue.status),
            col(Issue.subject),
            col(Issue.frozen_at),
            col(Issue.sent_at),
        )
        .where(col(Issue.status).in_(FROZEN))
        .order_by(col(Issue.number).desc())
        .limit(limit)
    ).all()
    tallies = _tallies(session, [row[0] for row in rows if row[0] is not None])
    ids = [row[0] for row in rows if row[0] is not None and row[0] not in tallies]
    ledger = _ledger_counts(session, ids)
    marks = _mark_counts(session, ids)
    left = _left_after(session, ids)
    figures = []
    for issue_id, number, status, subject, frozen_at, sent_at in rows:
        counts = tallies.get(issue_id) or {
            **ledger.get(issue_id, {}),
            **marks.get(issue_id, {}),
            "unsubscribed": left.get(issue_id, 0),
        }
        figures.append(
            IssueFigures(
                number=number,
                status=str(status),
                subject=subject or "",
                frozen_at=frozen_at,
                sent_at=sent_at,
                **counts,
            )
        )
    return figures


TALLIED = ("sent", "failed", "skipped", "queued", "delivered", "bounced", "complained",
           "unsubscribed")  # fmt: skip


def _tallies(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """The kept figures of those issues that are sent and counted."""
    query = (
        select(IssueTally)
        .join(Issue, col(Issue.id) == col(IssueTally.issue_id))
        .where(col(IssueTally.issue_id).in_(ids), col(Issue.status) == IssueStatus.SENT)
    )
    return {
        t.issue_id: {field: getattr(t, field) for field in TALLIED}
        for t in session.exec(query).all()
    }


def _figures_for(session: Session, issue: Issue) -> IssueFigures:
    """A sent issue's kept figures if counted, else counted now."""
    assert issue.id is not None
    kept = _tallies(session, [issue.id]).get(issue.id)
    if kept is None:
        return live_figures(session, issue)
    return IssueFigures(
        number=issue.number,
        status=str(issue.status),
        subject=issue.subject or "",
        frozen_at=issue.frozen_at,
        sent_at=issue.sent_at,
        **kept,
    )


def _ledger_counts(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    query = (
        select(Delivery.issue_id, Delivery.status, func.count())
        .where(col(Delivery.issue_id).in_(ids))
        .group_by(col(Delivery.issue_id), col(Delivery.status))
    )
    found: dict[int, dict[str, int]] = {}
    for issue_id, status, total in session.exec(query).all():
        found.setdefault(issue_id, {})[DeliveryStatus(status).value] = int(total)
    return found


def _mark_counts(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    query = (
        select(Delivery.issue_id, DeliveryMark.event, func.count())
        .join(Delivery, col(Delivery.id) == col(DeliveryMark.delivery_id))
        .where(
            col(Delivery.issue_id).in_(ids),
            col(DeliveryMark.event).in_(("delivered", "bounced", "complained")),
        )
        .group_by(col(Delivery.issue_id), col(DeliveryMark.event))
    )
    found: dict[int, dict[str, int]] = {}
    for issue_id, event, total in session.exec(query).all():
        found.setdefault(issue_id, {})[str(event)] = int(total)
    return found


def _left_after(session: Session, ids: list[int]) -> dict[int, int]:
    """Readers who unsubscribed after an issue, before any later issue was frozen for them."""
    later, later_issue = aliased(Delivery), aliased(Issue)
    got_a_later_one = exists().where(
        col(later.subscriber_id) == col(Subscriber.id),
        col(later.status) == DeliveryStatus.SENT,
        col(later_issue.id) == col(later.issue_id),
        col(later_issue.frozen_at) > col(Issue.frozen_at),
        col(later_issue.frozen_at) <= col(Subscriber.unsubscribed_at),
    )
    query = (
        select(Delivery.issue_id, func.count())
        .select_from(Subscriber)
        .join(Delivery, col(Delivery.subscriber_id) == col(Subscriber.id))
        .join(Issue, col(Issue.id) == col(Delivery.issue_id))
        .where(
            col(Subscriber.unsubscribed_at).is_not(None),
            col(Delivery.issue_id).in_(ids),
            col(Delivery.status) == DeliveryStatus.SENT,
            and_(col(Subscriber.unsubscribed_at) >= col(Issue.frozen_at)),
            ~got_a_later_one,
        )
        .group_by(col(Delivery.issue_id))
    )
    return {issue_id: int(total) for issue_id, total in session.exec(query).all()}


@dataclass(frozen=True)
class IssueLedger:
    """One issue's ledger in full, for its page."""

    issue: Issue
    figures: IssueFigures
    deliveries: dict[str, int]
    batches: dict[str, int]
    failures: list[tuple[str, int]]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())

    @property
    def answered(self) -> int:
        return self.total - self.deliveries.get(DeliveryStatus.QUEUED.value, 0)

    @property
    def running(self) -> bool:
        return self.issue.status in (IssueStatus.SENDING, IssueStatus.PAUSED)


def issue_ledger(session: Session, issue: Issue) -> IssueLedger:
    assert issue.id is not None
    figures = _figures_for(session, issue)
    return IssueLedger(
        issue=issue,
        figures=figures,
        deliveries=_copies(session, issue, figures),
        batches=batch_counts(session, issue.id),
        failures=failure_reasons(session, issue.id),
        events=issue_events(session, issue),
    )


def live_figures(session: Session, issue: Issue) -> IssueFigures:
    """One issue's figures counted from its ledger now (a sent one's are kept as a tally)."""
    assert issue.id is not None
    ledger = _ledger_counts(session, [issue.id]).get(issue.id, {})
    marks = _mark_counts(session, [issue.id]).get(issue.id, {})
    return IssueFigures(
        number=issue.number,
        status=str(issue.status),
        subject=issue.subject or "",
        frozen_at=issue.frozen_at,
        sent_at=issue.sent_at,
        **ledger,
        **marks,
        unsubscribed=_left_after(session, [issue.id]).get(issue.id, 0),
    )


def _copies(session: Session, issue: Issue, figures: IssueFigures) -> dict[str, int]:
    """Copies by status: a sent issue's ledger no longer changes, so its tally says it."""
    if issue.status == IssueStatus.SENT and figures.sent + figures.failed + figures.skipped:
        return {
            DeliveryStatus.QUEUED.value: figures.queued,
            DeliveryStatus.SENT.value: figures.sent,
            DeliveryStatus.FAILED.value: figures.failed,
            DeliveryStatus.SKIPPED.value: figures.skipped,
        }
    return issue_counts(session, issue.id or 0)


def issue_events(
    session: Session, issue: Issue, *, limit: int = EVENTS_SHOWN
) -> list[dict[str, Any]]:
    """The latest bounces and complaints the provider reported about this issue's copies in the
    EVENTS_WINDOW after it was frozen, with the reader each is about. (Delivered events are
    counted in the figures, not listed: there is one per copy.)

    Two small queries with a fixed shape: the marks of that window from the (event, at) index
    (every issue's, a few hundred), then which of them are this issue's copies. One join lets
    a planner walk all 100,000 copies of the issue instead."""
    start = issue.frozen_at or issue.created_at
    marks = session.exec(
        select(DeliveryMark.delivery_id, DeliveryMark.at, DeliveryMark.event, DeliveryMark.detail)
        .where(
            col(DeliveryMark.event).in_(("bounced", "complained")),
            col(DeliveryMark.at) >= start,
            col(DeliveryMark.at) < start + EVENTS_WINDOW,
        )
        .order_by(col(DeliveryMark.at).desc())
        .limit(EVENTS_SCANNED)
    ).all()
    readers = _readers_of(session, issue.id or 0, [m[0] for m in marks])
    found = [
        {"at": at, "type": event, "detail": detail or "", "reader": readers[delivery_id]}
        for delivery_id, at, event, detail in marks
        if delivery_id in readers
    ]
    return found[:limit]


def _readers_of(session: Session, issue_id: int, delivery_ids: list[int]) -> dict[int, int]:
    """Which of these copies are the issue's, and whose they are (by primary key)."""
    if not delivery_ids:
        return {}
    rows = session.exec(
        select(Delivery.id, Delivery.subscriber_id).where(
            col(Delivery.id).in_(delivery_ids), col(Delivery.issue_id) == issue_id
        )
    ).all()
    return {delivery_id or 0: reader for delivery_id, reader in rows}


def open_request(session: Session, issue_id: int) -> SendRequest | None:
    """The send-now or resume asked for this issue that no worker has finished yet."""
    query = select(SendRequest).where(
        col(SendRequest.issue_id) == issue_id, col(SendRequest.done_at).is_(None)
    )
    return session.exec(query.order_by(col(SendRequest.id).desc())).first()
