"""The send ledger: one delivery per (issue, subscriber), grouped into frozen batches.

A batch's membership and idempotency key are stored before anything is sent, so a crash at any
instant resumes the same batch with the same key, which the provider deduplicates.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class BatchStatus(StrEnum):
    PENDING = "pending"  # waiting for a worker, possibly until next_attempt_at (retry delay)
    LEASED = "leased"  # a worker holds it until lease_expires_at; then anyone may re-claim it
    DONE = "done"  # the provider answered; each delivery holds its own result
    FAILED = "failed"  # given up; every delivery still queued in it failed with last_error


class DeliveryStatus(StrEnum):
    QUEUED = "queued"  # in a batch, not yet answered for
    SENT = "sent"  # accepted by the provider
    FAILED = "failed"  # refused or given up; `error` says why
    SKIPPED = "skipped"  # left after the send began, or nothing this week in the reader's topics


class Batch(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("issue_id", "number"),
        # Serves the claim: the first pending batch in number order is read off the index,
        # never sorted out of every pending batch (at 1M readers there are 10,000).
        Index("ix_batch_issue_status_number", "issue_id", "status", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False)
    )
    number: int = Field(ge=0)
    idempotency_key: str = Field(max_length=100, unique=True)
    status: BatchStatus = Field(sa_type=String(10))
    attempts: int = 0  # failed attempts that count toward DIGEST_SEND_MAX_ATTEMPTS
    payload_size: int | None = None  # recipients in the first payload sent under the key
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = utc_field(nullable=True)
    next_attempt_at: datetime = utc_field()
    # When the first payload under the key left: past the provider's idempotency window
    # (Resend keeps keys ~24 h) an unrecorded batch is not re-sent (see claims.IDEMPOTENCY_WINDOW).
    first_attempt_at: datetime | None = utc_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = utc_field(default_now=True)
    finished_at: datetime | None = utc_field(nullable=True)


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id"),
        # The desk counts an issue's copies by status from this index alone (stats/issues.py).
        Index("ix_delivery_issue_status", "issue_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False)
    )
    subscriber_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    batch_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("batch.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # The copy this reader gets: NULL is the issue's own (every topic), else their topics'
    # variant. Fixed when the issue is enqueued, like the greeting name below, so that a batch
    # sent again after a crash is the same payload under the same idempotency key.
    variant_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("issue_variant.id", ondelete="CASCADE"), nullable=True
        ),
    )
    name: str | None = Field(default=None, max_length=100)  # cleared once the issue is sent
    status: DeliveryStatus = Field(sa_type=String(10))
    attempts: int = 0  # answers recorded for this reader; temporary refusals resend, bounded
    provider_id: str | None = Field(default=None, max_length=200, index=True)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = utc_field(default_now=True)
    finished_at: datetime | None = utc_field(nullable=True)


class DeliveryMark(SQLModel, table=True):
    """What the provider later told us about one delivery of an issue: delivered, bounced,
    complained. Kept beside the ledger (which records only the send) so both stay simple."""

    __tablename__ = "delivery_mark"
    __table_args__ = (
        UniqueConstraint("delivery_id", "event"),
        Index("ix_delivery_mark_event_at", "event", "at"),  # the desk's weekly bounces
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("delivery.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    event: str = Field(max_length=30)  # "delivered" | "bounced" | "complained" | ...
    detail: str | None = Field(default=None, max_length=200)
    at: datetime = utc_field()


class EnqueueProgress(SQLModel, table=True):
    """How far an issue's enqueue has got. The ledger is written in chunks of readers by id,
    each chunk in one transaction with this row, so a crash mid-enqueue resumes where it
    stopped and no reader is written twice."""

    __tablename__ = "enqueue_progress"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    # Readers with ids up to here are in the ledger (or were not confirmed when it was written).
    done_through: int = 0
    # The highest reader id when the send began: whoever joins later waits for the next issue.
    last_reader: int = 0
    batch_size: int = Field(ge=1)  # kept, so a resumed enqueue batches as the first run did
    queued: int = 0  # deliveries written so far, to send or skipped
    # The batch of readers whose topics have nothing this week (it sends nothing); numbered
    # last when the enqueue finishes, -1 until then.
    skip_batch_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("batch.id", ondelete="SET NULL"), nullable=True),
    )
    finished_at: datetime | None = utc_field(nullable=True)


class LedgerTally(SQLModel, table=True):
    """An issue's ledger folded into counts (`digest ledger compact`): how many deliveries ended
    in each status ("status", label = the status) and why they failed ("failure", label = the
    reason). What the desk shows per issue survives; the per-reader rows do not."""

    __tablename__ = "ledger_tally"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    kind: str = Field(max_length=10, primary_key=True)  # "status" | "failure"
    label: str = Field(max_length=1000, primary_key=True)
    count: int = 0
