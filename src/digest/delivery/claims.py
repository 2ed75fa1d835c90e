"""The send ledger, taking side: enqueue an issue once, lease the next due batch, recheck it.

Every function takes the session and does not commit: the caller's transaction decides, so a
claim (and the skips it records) is one transaction, and a result (results.py) is another.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from digest.config import Settings
from digest.delivery import audience
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

log = logging.getLogger(__name__)

# Resend forgets idempotency keys after 24 h; an hour's margin for clocks and slow requests.
IDEMPOTENCY_WINDOW = timedelta(hours=23)


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    email_hash: str
    variant_id: int | None = None  # None: the issue's own copy
    name: str | None = None  # the greeting's, as fixed when the issue was enqueued

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
    owner: str = ""  # the lease holder; only it may record the batch's outcome
    expired: int = 0  # recipients failed as "unknown whether delivered" (idempotency window)


def eligible_subscriber_ids(session: Session) -> list[int]:
    """Confirmed readers with an address, in a stable order."""
    query = (
        select(Subscriber.id)
        .where(col(Subscriber.status) == SubscriberStatus.CONFIRMED)
        .where(col(Subscriber.email).is_not(None))
        .order_by(col(Subscriber.id))
    )
    return [int(i) for i in session.exec(query).all() if i is not None]


def enqueue_issue(
    session: Session, issue: Issue, *, settings: Settings, batch_size: int, now: datetime
) -> int:
    """Store every batch and delivery of a frozen issue, once; returns the deliveries added.

    Each confirmed reader gets a delivery with their copy (the issue's, or their topics'
    variant, rendered here once per topic set); readers whose topics have nothing this week
    are recorded as skipped, with the reason, in a last batch of their own that sends nothing.
    """
    assert issue.id is not None
    lock_issue(session, issue.id)
    if has_batches(session, issue.id):
        return 0
    seats = audience.plan_audience(session, settings, issue)
    sendable = [seat for seat in seats if seat.skip is None]
    groups = [sendable[i : i + batch_size] for i in range(0, len(sendable), batch_size)]
    skipped = [seat for seat in seats if seat.skip is not None]
    rows: list[dict[str, object]] = []
    for number, group in enumerate([*groups, skipped] if skipped else groups):
        batch = new_batch(issue.id, number, now=now)
        session.add(batch)
        session.flush()
        rows.extend(_delivery_row(issue.id, batch.id, seat, now=now) for seat in group)
    if rows:
        session.execute(insert(Delivery), rows)
    return len(rows)


def _delivery_row(
    issue_id: int, batch_id: int | None, seat: audience.Seat, *, now: datetime
) -> dict[str, object]:
    status = DeliveryStatus.QUEUED if seat.skip is None else DeliveryStatus.SKIPPED
    return {
        "issue_id": issue_id,
        "subscriber_id": seat.subscriber_id,
        "batch_id": batch_id,
        "variant_id": seat.variant_id,
        "name": seat.name if seat.skip is None else None,
        "status": status,
        "error": seat.skip,
        "created_at": now,
        "finished_at": None if seat.skip is None else now,
    }


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
    assert batch.id is not None
    batch.status, batch.lease_owner = BatchStatus.LEASED, owner
    batch.lease_expires_at = now + lease
    first = batch.first_attempt_at
    if first is not None and now - first > IDEMPOTENCY_WINDOW:
        expired = give_up_unknown(session, batch, now=now)
        return Claim(
            batch.id, issue_id, batch.idempotency_key, [], False, owner=owner, expired=expired
        )
    batch.first_attempt_at = first or now
    recipients, skipped = recheck_recipients(session, batch, now=now)
    first_payload = batch.payload_size
    if first_payload is None and recipients:
        batch.payload_size = len(recipients)
    session.add(batch)
    shrunk = first_payload is not None and len(recipients) < first_payload
    return Claim(
        batch.id, issue_id, batch.idempotency_key, recipients, shrunk, skipped, owner=owner
    )


def give_up_unknown(session: Session, batch: Batch, *, now: datetime) -> int:
    """An unrecorded batch first tried beyond the provider's idempotency window: resending could
    mail everyone twice, so its readers fail with the reason (an operator may check the
    provider's logs). Returns how many readers that is."""
    reason = (
        f"unknown whether delivered: first attempt at {batch.first_attempt_at:%Y-%m-%d %H:%M} UTC "
        "was over 23 h ago, beyond the provider's idempotency window; not re-sent to avoid "
        "duplicates"
    )
    result = session.connection().execute(
        update(Delivery)
        .where(col(Delivery.batch_id) == batch.id, col(Delivery.status) == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.FAILED, error=reason, finished_at=now)
    )
    batch.status, batch.last_error, batch.finished_at = BatchStatus.FAILED, reason, now
    batch.lease_owner, batch.lease_expires_at = None, None
    session.add(batch)
    log.error(
        "issue %s batch %s: %d reader(s) %s", batch.issue_id, batch.number, result.rowcount, reason
    )
    return int(result.rowcount)


def recheck_recipients(
    session: Session, batch: Batch, *, now: datetime
) -> tuple[list[Recipient], int]:
    """Queued recipients still confirmed; the others are recorded as skipped, with the reason."""
    table, people = Delivery.__table__, Subscriber.__table__  # type: ignore[attr-defined]
    query = (
        sa_select(
            table.c.id,
            table.c.subscriber_id,
            people.c.status,
            people.c.email,
            people.c.email_hash,
            table.c.variant_id,
            table.c.name,
        )
        .join(people, people.c.id == table.c.subscriber_id)
        .where(table.c.batch_id == batch.id, table.c.status == DeliveryStatus.QUEUED.value)
        .order_by(table.c.subscriber_id)
    )
    recipients, gone = [], []
    for delivery_id, subscriber_id, status, email, hashed, variant, name in session.execute(
        query
    ).all():
        if status == SubscriberStatus.CONFIRMED and email:
            recipients.append(Recipient(delivery_id, subscriber_id, email, hashed, variant, name))
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


def has_leased(session: Session, issue_id: int) -> bool:
    """Whether some worker holds a batch of this issue right now (or held it until it died)."""
    leased = select(Batch.id).where(
        col(Batch.issue_id) == issue_id, col(Batch.status) == BatchStatus.LEASED
    )
    return session.exec(leased.limit(1)).first() is not None


def is_sending(session: Session, issue_id: int) -> bool:
    status = session.exec(select(Issue.status).where(col(Issue.id) == issue_id)).first()
    return status == IssueStatus.SENDING
