"""Delivering an issue: freeze and enqueue it once, run the senders, finish or pause it.

The ledger (ledger.py) holds the truth; the loop (sending.py) only moves it forward. Any number
of processes may call `send_issue` for the same issue at once: batches are leased, never shared.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest import issues, ledger, render_preview
from digest.config import Settings
from digest.db import session_scope
from digest.errors import Conflict, NotFound
from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, Issue, IssueStatus
from digest.outgoing import Composer
from digest.pacing import Pacer
from digest.render import RenderedEmail
from digest.retry import RetryPolicy
from digest.sending import SendJob, Tally
from digest.transports import make_transport
from digest.transports.base import OutgoingEmail, SendResult, Transport

UNFINISHED = (IssueStatus.SENDING, IssueStatus.PAUSED)


@dataclass(frozen=True)
class SendReport:
    issue: Issue
    counts: dict[str, int]
    tally: Tally

    @property
    def finished(self) -> bool:
        return (
            self.counts.get(DeliveryStatus.QUEUED, 0) == 0 and self.issue.status == IssueStatus.SENT
        )


def issue_counts(session: Session, issue_id: int) -> dict[str, int]:
    """Deliveries of an issue by status (every status present, zero when none)."""
    query = (
        select(Delivery.status, func.count())
        .where(col(Delivery.issue_id) == issue_id)
        .group_by(col(Delivery.status))
    )
    counts = {status.value: 0 for status in DeliveryStatus}
    counts.update({str(status): int(n) for status, n in session.exec(query).all()})
    return counts


def unfinished_issues(session: Session) -> list[Issue]:
    query = select(Issue).where(col(Issue.status).in_(UNFINISHED)).order_by(col(Issue.number))
    return list(session.exec(query).all())


def prepare_issue(session: Session, settings: Settings, *, now: datetime) -> Issue:
    """The issue to send now: an unfinished one first, else now's period, frozen and enqueued.

    Freezing and enqueueing share the caller's transaction: a crash leaves neither or both.
    Raises NothingToSend when the period has nothing new.
    """
    pending = unfinished_issues(session)
    if not pending:
        return open_period_issue(session, settings, now=now)
    ledger.enqueue_issue(session, pending[0], batch_size=settings.batch_size, now=now)
    return pending[0]


def open_period_issue(
    session: Session, settings: Settings, *, now: datetime, period_at: datetime | None = None
) -> Issue:
    """The period's issue (`period_at`'s, else now's), claimed in the store (one per period),
    frozen as of `now` and enqueued."""
    issue = issues.claim_issue(session, settings, now=now, period_at=period_at)
    if issue.status == IssueStatus.DRAFT:
        issue = issues.freeze_issue(session, settings, issue, now=now)
    if issue.status in UNFINISHED:
        ledger.enqueue_issue(session, issue, batch_size=settings.batch_size, now=now)
    return issue


def resume_issue(session: Session, issue_id: int) -> None:
    """A paused issue goes back to sending (a still-spent quota pauses it again)."""
    session.execute(
        update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.PAUSED)
        .values(status=IssueStatus.SENDING, pause_reason=None)
    )


def finish_if_done(session: Session, issue_id: int, *, now: datetime) -> bool:
    """Mark the issue sent once no batch is open; True if it is (or already was) sent."""
    ledger.lock_issue(session, issue_id)
    issue = session.get(Issue, issue_id)
    assert issue is not None
    if issue.status == IssueStatus.SENT:
        return True
    if issue.status != IssueStatus.SENDING or ledger.next_due(session, issue_id) is not None:
        return False
    issue.status, issue.sent_at = IssueStatus.SENT, now
    session.add(issue)
    return True


def send_issue(
    engine: Engine,
    settings: Settings,
    issue_id: int,
    *,
    transport: Transport,
    pacer: Pacer,
    workers: int,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
    on_progress: Callable[[Tally], None] | None = None,
    policy: RetryPolicy | None = None,
) -> SendReport:
    """Send whatever is left of a frozen, enqueued issue; safe to run in several processes.

    Batches, leases and retries run on a clock that starts at `now` and advances with real
    time, so a send "as of" another moment (`--now`) neither waits for that moment to come
    nor finds its own batches' due times in the future.
    """
    clock = clock or clock_from(now)
    with session_scope(engine) as session:
        resume_issue(session, issue_id)
        issue = session.get(Issue, issue_id)
        if issue is None:
            raise Conflict(f"issue id {issue_id} does not exist")
    job = SendJob(
        engine=engine,
        composer=Composer(settings, issue, now=now),
        transport=transport,
        pacer=pacer,
        policy=policy or RetryPolicy(max_attempts=settings.send_max_attempts),
        lease=timedelta(seconds=settings.send_lease_seconds),
        clock=clock,
        on_progress=on_progress,
    )
    tally = job.run(workers)
    with session_scope(engine) as session:
        finish_if_done(session, issue_id, now=clock())
        issue = session.get(Issue, issue_id) or issue
        counts = issue_counts(session, issue_id)
    return SendReport(issue=issue, counts=counts, tally=tally)


def send_with_configured_transport(
    engine: Engine,
    settings: Settings,
    issue_id: int,
    *,
    now: datetime,
    workers: int | None = None,
    on_progress: Callable[[Tally], None] | None = None,
) -> SendReport:
    """`send_issue` through DIGEST_TRANSPORT, paced at DIGEST_RATE_LIMIT; closes the transport."""
    pacer = Pacer(settings.rate_limit)
    transport = make_transport(settings, observer=pacer.observe)
    try:
        return send_issue(
            engine,
            settings,
            issue_id,
            transport=transport,
            pacer=pacer,
            workers=workers or settings.send_workers,
            now=now,
            on_progress=on_progress,
        )
    finally:
        transport.close()


def send_test_copy(
    settings: Settings, issue: Issue, *, to: str, transport: Transport
) -> SendResult:
    """A [TEST] copy of a frozen issue to `to`, outside the ledger, with the anonymous links."""
    frozen = RenderedEmail(
        subject=issue.subject or "",
        preheader=issue.preheader or "",
        html=issue.html or "",
        text=issue.text or "",
    )
    copy = render_preview.public_copy(settings, frozen)
    email = OutgoingEmail(
        reference=f"test-i{issue.number}-{uuid.uuid4().hex[:12]}",
        to=to,
        from_email=settings.from_email,
        subject=render_preview.TEST_PREFIX + copy.subject,
        html=copy.html,
        text=copy.text,
        tags={"kind": "test"},
    )
    return transport.send_batch([email], idempotency_key=email.reference)[0]


def issue_by_number(session: Session, number: int) -> Issue:
    issue = session.exec(select(Issue).where(col(Issue.number) == number)).first()
    if issue is None:
        raise NotFound(f"there is no issue #{number}; see: digest issue list")
    return issue


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
    return [(error or "unknown", int(n)) for error, n in session.exec(query).all()]


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads `start` now and then advances with the monotonic clock."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)
