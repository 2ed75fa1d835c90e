"""The send ledger, taking side: lease the next due batch, recheck it (enqueue: enqueue.py).

Every function takes the session and does not commit: the caller's transaction decides, so a
claim (and the skips it records) is one transaction, and a result (results.py) is another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

# Enqueueing lives in enqueue.py; named here too, as the ledger's taking side.
from digest.delivery.enqueue import enqueue_issue as enqueue_issue
from digest.delivery.enqueue import lock_issue as lock_issue
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
    attempts: int = 0  # answers this reader has had so far (results.record_results counts on)

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


def eligible_count(session: Session) -> int:
    """How many confirmed readers with an address there are now."""
    query = (
        select(func.count())
        .select_from(Subscriber)
        .where(col(Subscriber.status) == SubscriberStatus.CONFIRMED)
        .where(col(Subscriber.email).is_not(None))
    )
    return int(session.exec(query).one())


def claim_batch(
    session: Session, *, issue_id: int, owner: str, now: datetime, lease: timedelta
) -> Claim | None:
    """Lease the next batch that is due (or whose lease expired) and recheck its recipients."""
    batch = _expired_lease(session, issue_id, now=now) or _first_pending(session, issue_id, now=now)
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


def _first_pending(session: Session, issue_id: int, *, now: datetime) -> Batch | None:
    # Walks ix_batch_issue_status_number in number order: no sort of every pending batch.
    query = (
        select(Batch)
        .where(col(Batch.issue_id) == issue_id, col(Batch.status) == BatchStatus.PENDING)
        .where(col(Batch.next_attempt_at) <= now)
        .order_by(col(Batch.number))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.exec(query).first()


def _expired_lease(session: Session, issue_id: int, *, now: datetime) -> Batch | None:
    """A batch whose worker died first: it was sent (or not) under its key, so it goes before
    new work. Leased batches are few (one per worker), so this is cheap."""
    query = (
        select(Batch)
        .where(col(Batch.issue_id) == issue_id, col(Batch.status) == BatchStatus.LEASED)
        .where(col(Batch.lease_expires_at) <= now)
        .order_by(col(Batch.number))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.exec(query).first()


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
            table.c.attempts,
        )
        .join(people, people.c.id == table.c.subscriber_id)
        .where(table.c.batch_id == batch.id, table.c.status == DeliveryStatus.QUEUED.value)
        .order_by(table.c.subscriber_id)
    )
    recipients, gone = [], []
    for delivery_id, subscriber_id, status, email, hashed, variant, name, tried in session.execute(
        query
    ).all():
        if status == SubscriberStatus.CONFIRMED and email:
            recipients.append(
                Recipient(delivery_id, subscriber_id, email, hashed, variant, name, tried)
            )
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
