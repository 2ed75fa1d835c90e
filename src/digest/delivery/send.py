"""Delivering an issue: freeze and enqueue it once, run the senders, finish or pause it.

The ledger (claims.py, results.py) holds the truth; the workers (workers.py) only move it
forward. Any number of processes may call `send_issue` for the same issue at once: batches are
leased, never shared. The transport and its pacer are built by the caller (a composition root).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest import clicks, issues
from digest.config import Settings
from digest.db import in_store
from digest.delivery import breaker, claims, enqueue
from digest.delivery.compose import Composer
from digest.delivery.pacing import Pacer
from digest.delivery.reports import issue_counts
from digest.delivery.retry import RetryPolicy
from digest.delivery.workers import SendJob, Tally
from digest.errors import Conflict
from digest.models import Delivery, DeliveryStatus, Issue, IssueStatus, IssueVariant
from digest.transports import Transport

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


def unfinished_issues(session: Session) -> list[Issue]:
    query = select(Issue).where(col(Issue.status).in_(UNFINISHED)).order_by(col(Issue.number))
    return list(session.exec(query).all())


def prepare_issue(session: Session, settings: Settings, *, now: datetime) -> Issue:
    """The issue to send now: an unfinished one first, else now's period, frozen and enqueued.

    Freezing and starting the enqueue (who is in it) share the caller's transaction: a crash
    leaves neither or both; `send_issue` writes the ledger itself, chunk by chunk, as it sends.
    Raises NothingToSend when the period has nothing new.
    """
    pending = unfinished_issues(session)
    if not pending:
        return open_period_issue(session, settings, now=now)
    enqueue.start_enqueue(session, pending[0], batch_size=settings.batch_size)
    return pending[0]


def open_period_issue(
    session: Session, settings: Settings, *, now: datetime, period_at: datetime | None = None
) -> Issue:
    """The period's issue (`period_at`'s, else now's), claimed in the store (one per period),
    frozen as of `now`, its enqueue started (`send_issue` writes the ledger)."""
    issue = issues.claim_issue(session, settings, now=now, period_at=period_at)
    if issue.status == IssueStatus.DRAFT:
        issue = issues.freeze_issue(session, settings, issue, now=now)
    if issue.status in UNFINISHED:
        enqueue.start_enqueue(session, issue, batch_size=settings.batch_size)
    return issue


def resume_issue(session: Session, issue_id: int) -> None:
    """A paused issue goes back to sending (a still-spent quota pauses it again), unless an
    editor paused it (`paused_by`) or the circuit breaker did: those take an explicit resume."""
    session.execute(
        update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.PAUSED)
        .where(col(Issue.paused_by).is_(None))
        .where(
            or_(
                col(Issue.pause_reason).is_(None),
                col(Issue.pause_reason).not_like(f"{breaker.PREFIX}%"),
            )
        )
        .values(status=IssueStatus.SENDING, pause_reason=None)
    )


def finish_if_done(session: Session, issue_id: int, *, now: datetime) -> bool:
    """Mark the issue sent once no batch is open; True if it is (or already was) sent."""
    claims.lock_issue(session, issue_id)
    issue = session.get(Issue, issue_id)
    assert issue is not None
    if issue.status == IssueStatus.SENT:
        return True
    if issue.status != IssueStatus.SENDING or claims.next_due(session, issue_id) is not None:
        return False
    if not enqueue.is_finished(session, issue_id):  # readers not in the ledger yet
        return False
    issue.status, issue.sent_at = IssueStatus.SENT, now
    session.add(issue)
    # The greeting names were kept only so a resent batch is the same payload: done with them.
    named = col(Delivery.name).is_not(None)
    session.execute(
        update(Delivery).where(col(Delivery.issue_id) == issue_id, named).values(name=None)
    )
    return True


def send_issue(
    engine: Engine,
    settings: Settings,
    issue_id: int,
    *,
    transport: Transport,
    pacer: Pacer,
    now: datetime,
    workers: int | None = None,
    clock: Callable[[], datetime] | None = None,
    on_progress: Callable[[Tally], None] | None = None,
    policy: RetryPolicy | None = None,
) -> SendReport:
    """Send whatever is left of a frozen, enqueued issue; safe to run in several processes.

    `pacer` keeps the send at DIGEST_RATE_LIMIT; build the transport with
    `observer=pacer.observe` so it also follows the provider's rate-limit headers. Batches,
    leases and retries run on a clock that starts at `now` and advances with real time, so a
    send "as of" another moment (`--now`) neither waits for that moment to come nor finds its
    own batches' due times in the future.
    """
    clock = clock or clock_from(now)
    patience = settings.db_retry_seconds

    def resume(session: Session) -> tuple[Issue, list[IssueVariant], clicks.IssueTracking | None]:
        resume_issue(session, issue_id)
        issue = session.get(Issue, issue_id)
        if issue is None:
            raise Conflict(f"issue id {issue_id} does not exist")
        tracking = clicks.prepare_tracking(session, settings, issue)
        return issue, issues.variants_of(session, issue_id), tracking

    issue, variants, tracking = in_store(engine, resume, patience=patience)

    def feed() -> None:  # the ledger is written while the first batches go out
        enqueue.enqueue_in_chunks(engine, settings, issue_id, clock=clock, patience=patience)

    job = SendJob(
        engine=engine,
        composer=Composer(
            settings,
            issue,
            now=now,
            variants=variants,
            tracking=tracking,
            fetch=lambda variant_id: in_store(
                engine, lambda s: s.get(IssueVariant, variant_id), patience=patience
            ),
        ),
        transport=transport,
        pacer=pacer,
        policy=policy or RetryPolicy(max_attempts=settings.send_max_attempts),
        lease=timedelta(seconds=settings.send_lease_seconds),
        clock=clock,
        on_progress=on_progress,
        store_patience=patience,
        breaker=breaker.Breaker.from_settings(settings),
        on_trip=lambda reason: breaker.alert_editors(
            transport, settings, issue_number=issue.number, reason=reason, now=clock()
        ),
        feed=feed,
    )
    tally = job.run(workers or settings.send_workers)

    def finish(session: Session) -> tuple[Issue, dict[str, int]]:
        finish_if_done(session, issue_id, now=clock())
        return session.get(Issue, issue_id) or issue, issue_counts(session, issue_id)

    issue, counts = in_store(engine, finish, patience=patience)
    return SendReport(issue=issue, counts=counts, tally=tally)


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads `start` now and then advances with the monotonic clock."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)
