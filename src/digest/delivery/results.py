"""The send ledger, recording side: results, retries, resends, failures, pauses of a leased batch.

Only the lease holder records: every function here first checks (under a row lock) that the
claim's owner still holds the batch. A worker whose lease ran out while it was sending records
nothing and says so; the worker that re-claimed the batch records it instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, func, text, update
from sqlmodel import Session, col, select

from digest.db import UTCDateTime
from digest.delivery.claims import Claim
from digest.delivery.enqueue import lock_issue, new_batch
from digest.models import Batch, BatchStatus, Delivery, DeliveryStatus, Issue, IssueStatus
from digest.transports import SendResult

log = logging.getLogger(__name__)


def holds_lease(session: Session, claim: Claim) -> bool:
    """Lock the batch row and say whether `claim.owner` still holds it."""
    query = (
        select(Batch.lease_owner, Batch.status)
        .where(col(Batch.id) == claim.batch_id)
        .with_for_update()
    )
    row = session.exec(query).first()
    held = row is not None and row[1] == BatchStatus.LEASED and row[0] == claim.owner
    if not held:
        log.warning(
            "batch %s: %s lost its lease while sending; recording nothing (the holder will)",
            claim.batch_id,
            claim.owner,
        )
    return held


def renew_lease(session: Session, claim: Claim, *, until: datetime) -> bool:
    """Extend the lease while the batch is being sent; False once someone else holds it."""
    result = session.connection().execute(
        update(Batch)
        .where(
            col(Batch.id) == claim.batch_id,
            col(Batch.lease_owner) == claim.owner,
            col(Batch.status) == BatchStatus.LEASED,
        )
        .values(lease_expires_at=until)
    )
    return bool(result.rowcount)


def taken_over(session: Session, claim: Claim) -> bool:
    """Whether another worker leases the batch now (not: this claim recorded or released it)."""
    row = session.exec(
        select(Batch.lease_owner, Batch.status).where(col(Batch.id) == claim.batch_id)
    ).first()
    return row is not None and row[1] == BatchStatus.LEASED and row[0] != claim.owner


def record_results(
    session: Session,
    claim: Claim,
    results: list[SendResult],
    *,
    now: datetime,
    resend_at: datetime,
    max_attempts: int,
) -> bool:
    """The provider's answer per recipient; False (nothing written) if the lease was lost.

    Sent and permanently refused readers are final. A reader refused for now (`permanent`
    False: greylisting, a dropped SMTP connection) was not sent: it moves to a new batch with
    a new key, due at `resend_at`, until it has had `max_attempts` answers.

    Two statements on the wire (issue 14): closing the batch doubles as the lease check (it
    only matches while `claim.owner` holds it), and every reader's row is one UPDATE. The
    answers so far came with the claim (only the lease holder changes them).
    """
    if not close_if_held(session, claim, now=now):
        return False
    ids = {r.reference(claim.issue_id): r for r in claim.recipients}
    final, again = [], []
    for result in results:
        recipient = ids[result.reference]
        attempt = recipient.attempts + 1
        if result.ok or result.permanent or attempt >= max_attempts:
            final.append(final_row(recipient.delivery_id, result, attempt))
        else:
            again.append(recipient.delivery_id)
    write_final(session, final, now=now)
    if again:
        resend_later(session, claim, again, at=resend_at, now=now)
    return True


def close_if_held(session: Session, claim: Claim, *, now: datetime) -> bool:
    """Mark the batch done if `claim.owner` still holds its lease (the row is locked until
    commit, like `holds_lease`); False, and a warning, if someone else took it over."""
    result = session.connection().execute(
        update(Batch)
        .where(
            col(Batch.id) == claim.batch_id,
            col(Batch.lease_owner) == claim.owner,
            col(Batch.status) == BatchStatus.LEASED,
        )
        .values(status=BatchStatus.DONE, finished_at=now, lease_owner=None, lease_expires_at=None)
    )
    if result.rowcount:
        return True
    log.warning(
        "batch %s: %s lost its lease while sending; recording nothing (the holder will)",
        claim.batch_id,
        claim.owner,
    )
    return False


def final_row(delivery_id: int, result: SendResult, attempt: int) -> dict[str, object]:
    error = None if result.ok else (result.error or "refused")
    if error is not None and not result.permanent:
        error = f"{error} (gave up after {attempt} attempts)"
    return {
        "b_id": delivery_id,
        "b_status": (DeliveryStatus.SENT if result.ok else DeliveryStatus.FAILED).value,
        "b_provider": result.provider_id,
        "b_error": error[:1000] if error else None,
        "b_attempts": attempt,
    }


def write_final(session: Session, rows: list[dict[str, object]], *, now: datetime) -> None:
    """The batch's rows in one statement: on PostgreSQL one UPDATE over unnested arrays (one
    round trip); on SQLite, in-process, one executemany UPDATE. A row-at-a-time loop was half
    the send's time."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        return _write_final_arrays(session, rows, now=now)
    table = Delivery.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == DeliveryStatus.QUEUED.value)
        .values(
            status=bindparam("b_status"),
            provider_id=bindparam("b_provider"),
            error=bindparam("b_error"),
            attempts=bindparam("b_attempts"),
            finished_at=now,
        )
    )
    session.connection().execute(statement, rows)


FINAL_ARRAYS = text(
    "UPDATE delivery SET status = v.status, provider_id = v.provider, error = v.error, "
    "attempts = v.attempts, finished_at = :now "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), "
    "CAST(:providers AS text[]), CAST(:errors AS text[]), CAST(:attempts AS integer[])) "
    "AS v(id, status, provider, error, attempts) "
    "WHERE delivery.id = v.id AND delivery.status = :queued"
).bindparams(bindparam("now", type_=UTCDateTime()))


def _write_final_arrays(session: Session, rows: list[dict[str, object]], *, now: datetime) -> None:
    columns = {"ids": "b_id", "statuses": "b_status", "providers": "b_provider"}
    columns |= {"errors": "b_error", "attempts": "b_attempts"}
    params: dict[str, object] = {name: [row[key] for row in rows] for name, key in columns.items()}
    params |= {"now": now, "queued": DeliveryStatus.QUEUED.value}
    session.connection().execute(FINAL_ARRAYS, params)


def resend_later(
    session: Session, claim: Claim, delivery_ids: list[int], *, at: datetime, now: datetime
) -> None:
    """A follow-up batch (new number, new key: its payload differs) for readers refused for now."""
    lock_issue(session, claim.issue_id)  # numbers are unique per issue: one allocator at a time
    last = session.exec(select(func.max(Batch.number)).where(col(Batch.issue_id) == claim.issue_id))
    batch = new_batch(claim.issue_id, int(last.one() or 0) + 1, now=now)
    batch.next_attempt_at = at
    session.add(batch)
    session.flush()
    session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(delivery_ids), col(Delivery.status) == DeliveryStatus.QUEUED)
        .values(batch_id=batch.id, attempts=Delivery.attempts + 1)
    )


def mark_sent_earlier(session: Session, claim: Claim, *, now: datetime, note: str) -> bool:
    """The first payload under this key went through: its remaining recipients have their copy."""
    if not holds_lease(session, claim):
        return False
    ids = [r.delivery_id for r in claim.recipients]
    session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(ids), col(Delivery.status) == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SENT, error=note[:1000], finished_at=now)
    )
    finish_batch(session, claim, BatchStatus.DONE, now=now)
    return True


def finish_batch(
    session: Session,
    claim: Claim,
    status: BatchStatus,
    *,
    now: datetime,
    error: str | None = None,
) -> None:
    values: dict[str, object] = {
        "status": status,
        "finished_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if error is not None:
        values["last_error"] = error[:1000]
    session.execute(
        update(Batch)
        .where(col(Batch.id) == claim.batch_id, col(Batch.lease_owner) == claim.owner)
        .values(**values)
    )


def fail_batch(session: Session, claim: Claim, *, error: str, now: datetime) -> bool:
    """Give up: every recipient still queued in the batch fails with the reason."""
    if not holds_lease(session, claim):
        return False
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
    finish_batch(session, claim, BatchStatus.FAILED, now=now, error=error)
    return True


def release_batch(
    session: Session,
    claim: Claim,
    *,
    at: datetime,
    error: str,
    count_attempt: bool,
    reset_attempts: bool = False,
) -> bool:
    """Put the batch back (same key) for a later attempt; False if the lease was lost."""
    if not holds_lease(session, claim):
        return False
    batch = session.get(Batch, claim.batch_id)
    assert batch is not None
    batch.status, batch.next_attempt_at, batch.last_error = BatchStatus.PENDING, at, error[:1000]
    batch.lease_owner, batch.lease_expires_at = None, None
    batch.attempts = 0 if reset_attempts else batch.attempts + (1 if count_attempt else 0)
    session.add(batch)
    return True


def attempts_of(session: Session, batch_id: int) -> int:
    return int(session.exec(select(Batch.attempts).where(col(Batch.id) == batch_id)).one())


def pause_issue(session: Session, issue_id: int, *, reason: str, now: datetime) -> None:
    """Stop claiming (quota spent, provider down); the scheduler or a rerun resumes it."""
    session.execute(
        update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.SENDING)
        .values(
            status=IssueStatus.PAUSED,
            pause_reason=f"{reason} (paused at {now:%Y-%m-%d %H:%M} UTC)"[:500],
        )
    )
