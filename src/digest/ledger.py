"""The send ledger in the store: enqueue an issue once, claim batches under a lease, record.

Every function takes the session and does not commit: the caller's transaction decides, so a
claim (and the skips it records) is one transaction, and a result is another.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from digest.models import (
    Batch,
    BatchStatus,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
)
from digest.transports.base import SendResult


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None

    def reference(self, issue_id: int) -> str:
        return f"i{issue_id}-s{self.subscriber_id}"


@dataclass(frozen=True)
class Claim:
    batch_id: int
    issue_id: int
    idempotency_key: str
    recipients: list[Recipient]
    shrunk: bool  # fewer recipients than the first payload sent under this key
    skipped: int = 0  # recipients this claim recorded as skipped


def eligible_subscriber_ids(session: Session) -> list[int]:
    """Confirmed readers with an address, in a stable order."""
    query = (
        select(Subscriber.id)
        .where(col(Subscriber.status) == SubscriberStatus.CONFIRMED)
        .where(col(Subscriber.email).is_not(None))
        .order_by(col(Subscriber.id))
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def enqueue_issue(session: Session, issue: Issue, *, batch_size: int, now: datetime) -> int:
    """Store every batch and delivery of a frozen issue, once. Returns the deliveries added."""
    assert issue.id is not None
    lock_issue(session, issue.id)
    if has_batches(session, issue.id):
        return 0
    ids = eligible_subscriber_ids(session)
    rows: list[dict[str, object]] = []
    for number, start in enumerate(range(0, len(ids), batch_size)):
        batch = new_batch(issue.id, number, now=now)
        session.add(batch)
        session.flush()
        rows.extend(
            {
                "issue_id": issue.id,
                "subscriber_id": sid,
                "batch_id": batch.id,
                "status": DeliveryStatus.QUEUED,
                "created_at": now,
            }
            for sid in ids[start : start + batch_size]
        )
    if rows:
        session.execute(insert(Delivery), rows)
    return len(rows)


def new_batch(issue_id: int, number: int, *, now: datetime) -> Batch:
    # Random, not derived from ids: a rebuilt database must never reuse a key the provider knows.
    key = f"digest-i{issue_id}-b{number}-{uuid.uuid4().hex}"
    return Batch(
        issue_id=issue_id,
        number=number,
        idempotency_key=key,
        status=BatchStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


def lock_issue(session: Session, issue_id: int) -> None:
    """Serialise enqueue per issue (PostgreSQL row lock; SQLite writers are serial already)."""
    session.exec(select(Issue.id).where(col(Issue.id) == issue_id).with_for_update()).first()


def has_batches(session: Session, issue_id: int) -> bool:
    query = select(Batch.id).where(col(Batch.issue_id) == issue_id).limit(1)
    return session.exec(query).first() is not None


def claim_batch(
    session: Session, *, issue_id: int, owner: str, now: datetime, lease: timedelta
) -> Claim | None:
    """Lease the next batch that is due (or whose lease expired) and recheck its recipients."""
    due = or_(
        and_(col(Batch.status) == BatchStatus.PENDING, col(Batch.next_attempt_at) <= now),
        and_(col(Batch.status) == BatchStatus.LEASED, col(Batch.lease_expires_at) <= now),
    )
    query = (
        select(Batch)
        .where(col(Batch.issue_id) == issue_id, due)
        .order_by(col(Batch.number))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    batch = session.exec(query).first()
    if batch is None:
        return None
    batch.status, batch.lease_owner = BatchStatus.LEASED, owner
    batch.lease_expires_at = now + lease
    recipients, skipped = recheck_recipients(session, batch, now=now)
    first_payload = batch.payload_size
    if first_payload is None and recipients:
        batch.payload_size = len(recipients)
    session.add(batch)
    assert batch.id is not None
    shrunk = first_payload is not None and len(recipients) < first_payload
    return Claim(batch.id, issue_id, batch.idempotency_key, recipients, shrunk, skipped)


def recheck_recipients(
    session: Session, batch: Batch, *, now: datetime
) -> tuple[list[Recipient], int]:
    """Queued recipients still confirmed; the others are recorded as skipped, with the reason."""
    table, people = Delivery.__table__, Subscriber.__table__  # type: ignore[attr-defined]
    query = (
        sa_select(table.c.id, table.c.subscriber_id, people.c.status, people.c.email, people.c.name)
        .join(people, people.c.id == table.c.subscriber_id)
        .where(table.c.batch_id == batch.id, table.c.status == DeliveryStatus.QUEUED.value)
        .order_by(table.c.subscriber_id)
    )
    recipients, gone = [], []
    for delivery_id, subscriber_id, status, email, name in session.execute(query).all():
        if status == SubscriberStatus.CONFIRMED and email:
            recipients.append(Recipient(delivery_id, subscriber_id, email, name))
        else:
            gone.append(
                {"b_id": delivery_id, "b_error": f"subscriber became {status} after the send began"}
            )
    if gone:
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                status=DeliveryStatus.SKIPPED.value, error=bindparam("b_error"), finished_at=now
            ),
            gone,
        )
    return recipients, len(gone)


def record_results(
    session: Session, claim: Claim, results: list[SendResult], *, now: datetime
) -> None:
    """The provider's answer per recipient; only deliveries still queued change (idempotent).

    One executemany UPDATE for the whole batch: a row-at-a-time loop was half the send's time.
    """
    by_reference = {r.reference(claim.issue_id): r.delivery_id for r in claim.recipients}
    table = Delivery.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == DeliveryStatus.QUEUED.value)
        .values(
            status=bindparam("b_status"),
            provider_id=bindparam("b_provider"),
            error=bindparam("b_error"),
            finished_at=now,
        )
    )
    rows = [
        {
            "b_id": by_reference[result.reference],
            "b_status": (DeliveryStatus.SENT if result.ok else DeliveryStatus.FAILED).value,
            "b_provider": result.provider_id,
            "b_error": None if result.ok else (result.error or "refused")[:1000],
        }
        for result in results
    ]
    if rows:
        session.connection().execute(statement, rows)
    finish_batch(session, claim.batch_id, BatchStatus.DONE, now=now)


def mark_sent_earlier(session: Session, claim: Claim, *, now: datetime, note: str) -> None:
    """The first payload under this key went through: its remaining recipients have their copy."""
    ids = [r.delivery_id for r in claim.recipients]
    session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(ids), col(Delivery.status) == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SENT, error=note[:1000], finished_at=now)
    )
    finish_batch(session, claim.batch_id, BatchStatus.DONE, now=now)


def finish_batch(
    session: Session, batch_id: int, status: BatchStatus, *, now: datetime, error: str | None = None
) -> None:
    values: dict[str, object] = {
        "status": status,
        "finished_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if error is not None:
        values["last_error"] = error[:1000]
    session.execute(update(Batch).where(col(Batch.id) == batch_id).values(**values))


def fail_batch(session: Session, claim: Claim, *, error: str, now: datetime) -> None:
    """Give up: every recipient still queued in the batch fails with the reason."""
    session.execute(
        update(Delivery)
        .where(
            col(Delivery.batch_id) == claim.batch_id, col(Delivery.status) == DeliveryStatus.QUEUED
        )
        .values(status=DeliveryStatus.FAILED, error=error[:1000], finished_at=now)
    )
    session.execute(
        update(Batch).where(col(Batch.id) == claim.batch_id).values(attempts=Batch.attempts + 1)
    )
    finish_batch(session, claim.batch_id, BatchStatus.FAILED, now=now, error=error)


def release_batch(
    session: Session, claim: Claim, *, at: datetime, error: str, count_attempt: bool
) -> int:
    """Put the batch back for a later attempt; returns the attempts counted so far."""
    batch = session.get(Batch, claim.batch_id)
    assert batch is not None
    batch.status, batch.next_attempt_at, batch.last_error = BatchStatus.PENDING, at, error[:1000]
    batch.lease_owner, batch.lease_expires_at = None, None
    batch.attempts += 1 if count_attempt else 0
    session.add(batch)
    return batch.attempts


def next_due(session: Session, issue_id: int) -> datetime | None:
    """When the next batch becomes claimable; None when every batch is finished."""
    pending = select(func.min(Batch.next_attempt_at)).where(
        col(Batch.issue_id) == issue_id, col(Batch.status) == BatchStatus.PENDING
    )
    leased = select(func.min(Batch.lease_expires_at)).where(
        col(Batch.issue_id) == issue_id, col(Batch.status) == BatchStatus.LEASED
    )
    times = [t for t in (session.exec(pending).one(), session.exec(leased).one()) if t]
    return min(times) if times else None


def attempts_of(session: Session, batch_id: int) -> int:
    return int(session.exec(select(Batch.attempts).where(col(Batch.id) == batch_id)).one())


def is_sending(session: Session, issue_id: int) -> bool:
    status = session.exec(select(Issue.status).where(col(Issue.id) == issue_id)).first()
    return status == IssueStatus.SENDING


def pause_issue(session: Session, issue_id: int, *, reason: str, now: datetime) -> None:
    """The provider's quota ran out: stop claiming; the scheduler or a rerun resumes it."""
    session.execute(
        update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.SENDING)
        .values(
            status=IssueStatus.PAUSED,
            pause_reason=f"{reason} (paused at {now:%Y-%m-%d %H:%M} UTC)"[:500],
        )
    )
