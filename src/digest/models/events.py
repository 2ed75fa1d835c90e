"""What the reader-facing edge keeps in the store so it holds across processes and restarts:
transactional messages (confirmation mail and friends), rate-limit counters, webhook events.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class MessageKind(StrEnum):
    CONFIRM = "confirm"  # double opt-in: one button to /confirm/{token}
    MANAGE = "manage"  # "here is the link to your preferences", asked for on the web


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for a sender, not before next_attempt_at
    SENT = "sent"  # the transport accepted it
    FAILED = "failed"  # refused for good, or out of attempts; last_error says why
    CANCELLED = "cancelled"  # the reader went away (erased, suppressed) before it was sent


class TransactionalMessage(SQLModel, table=True):
    """One email to one reader, stored with the change that caused it and sent afterwards.

    The body is rendered at send time from `kind`, the subscriber and `created_at`, so the store
    holds no copy of the address, and every retry renders the same bytes for the same reference.
    """

    __tablename__ = "transactional_message"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=100, unique=True)  # also the transport's idempotency key
    subscriber_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: MessageKind = Field(sa_type=String(20))
    status: MessageStatus = Field(sa_type=String(10), index=True)
    attempts: int = 0
    next_attempt_at: datetime = utc_field(index=True)
    last_error: str | None = Field(default=None, max_length=1000)
    provider_id: str | None = Field(default=None, max_length=200, index=True)
    created_at: datetime = utc_field()
    sent_at: datetime | None = utc_field(nullable=True)


class RateCounter(SQLModel, table=True):
    """Requests seen for one key ("ip:..." or "addr:<hash>") in one fixed window."""

    __tablename__ = "rate_counter"

    key: str = Field(max_length=100, primary_key=True)
    window_start: datetime = utc_field(primary_key=True)
    hits: int = 0


class WebhookEvent(SQLModel, table=True):
    """A provider event we accepted, by its svix-id: Resend retries, we apply once."""

    __tablename__ = "webhook_event"

    id: int | None = Field(default=None, primary_key=True)
    svix_id: str = Field(max_length=200, unique=True)
    event_type: str = Field(max_length=60)
    provider_email_id: str | None = Field(default=None, max_length=200, index=True)
    outcome: str = Field(max_length=200)  # what we did, for operators reading the table
    received_at: datetime = utc_field()


class DeliveryMark(SQLModel, table=True):
    """What the provider later told us about one delivery of an issue: delivered, bounced,
    complained. Kept beside the ledger (which records only the send) so both stay simple."""

    __tablename__ = "delivery_mark"
    __table_args__ = (UniqueConstraint("delivery_id", "event"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("delivery.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    event: str = Field(max_length=30)  # "delivered" | "bounced" | "complained" | ...
    detail: str | None = Field(default=None, max_length=200)
    at: datetime = utc_field()
