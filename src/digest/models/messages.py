"""Transactional mail to one reader (confirmation, "your link", data link, welcome), stored with
its cause."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class MessageKind(StrEnum):
    CONFIRM = "confirm"  # double opt-in: one button to /confirm/{token}
    MANAGE = "manage"  # "here is the link to your preferences", asked for on the web
    DATA = "data"  # "here is a short-lived link to download or erase your data"
    WELCOME = "welcome"  # once, on confirmation: the latest issue's cards (or what to expect)


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
    # A welcome carries the issue that was the latest when it was queued (NULL: none yet) and
    # when the next one was due then (`issues.next_issue_at`; NULL: unknown), so every retry
    # renders the same bytes even if an issue goes out meanwhile.
    issue_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="SET NULL"), nullable=True),
    )
    next_issue_at: datetime | None = utc_field(nullable=True)
    status: MessageStatus = Field(sa_type=String(10), index=True)
    attempts: int = 0
    next_attempt_at: datetime = utc_field(index=True)
    last_error: str | None = Field(default=None, max_length=1000)
    provider_id: str | None = Field(default=None, max_length=200, index=True)
    created_at: datetime = utc_field()
    sent_at: datetime | None = utc_field(nullable=True)
