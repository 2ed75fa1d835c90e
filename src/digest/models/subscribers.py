"""Readers: who subscribed, when and how they consented, and where they stand now."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, func, text
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # signed up, not yet confirmed
    CONFIRMED = "confirmed"  # receives issues
    UNSUBSCRIBED = "unsubscribed"  # asked to stop; may resubscribe
    BOUNCED = "bounced"  # permanent bounce: suppressed for good
    COMPLAINED = "complained"  # marked as spam: suppressed for good
    SUPPRESSED = "suppressed"  # an editor stopped mail to it (the audit log says why)
    ERASED = "erased"  # personal data removed; only the address hash is kept


class ConsentRoute(StrEnum):
    FORM = "form"
    API = "api"
    IMPORT = "import"
    CLI = "cli"
    DESK = "desk"  # added by an editor on the desk


class Subscriber(SQLModel, table=True):
    # Never reuse an id on SQLite (PostgreSQL sequences never do): links that never expire name
    # a subscriber by id, and a purged reader's old link must not reach whoever comes next.
    # The desk's weekly figures count confirmations and unsubscribes by week (stats/growth.py).
    __table_args__ = (
        Index("ix_subscriber_confirmed_at", "confirmed_at"),
        Index("ix_subscriber_unsubscribed_at", "unsubscribed_at"),
        Index("ix_subscriber_name_lower", func.lower(text("name"))),  # the desk's name search
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    # Normalised address; NULL once erased. The hash survives erasure so that a stale import
    # cannot mail an erased or suppressed address again.
    email: str | None = Field(default=None, max_length=320, unique=True)
    email_hash: str = Field(max_length=64, unique=True)
    name: str | None = Field(default=None, max_length=100)
    status: SubscriberStatus = Field(sa_type=String(20), index=True)
    created_at: datetime = utc_field(default_now=True)
    confirmed_at: datetime | None = utc_field(nullable=True)
    unsubscribed_at: datetime | None = utc_field(nullable=True)
    suppressed_at: datetime | None = utc_field(nullable=True)  # bounced/complained: for good
    # Soft bounces (mailbox full, deferred, policy) since the last delivered event, one per
    # message; at DIGEST_BOUNCE_SOFT_LIMIT the reader is suppressed as bounced.
    soft_bounces: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    erased_at: datetime | None = utc_field(nullable=True)
    # When the last confirmation email was queued: at most one per DIGEST_CONFIRM_RESEND_MINUTES.
    confirm_sent_at: datetime | None = utc_field(nullable=True)
    consent_route: ConsentRoute = Field(sa_type=String(10))
    consent_at: datetime | None = utc_field(nullable=True)
    consent_ip: str | None = Field(default=None, max_length=64)
    consent_user_agent: str | None = Field(default=None, max_length=500)
    # The latest anonymous request for an address already on file: applied only when the
    # mailbox owner confirms, so nobody can rewrite another reader's name or consent record.
    pending_name: str | None = Field(default=None, max_length=100)
    pending_consent_route: ConsentRoute | None = Field(default=None, sa_type=String(10))
    pending_consent_at: datetime | None = utc_field(nullable=True)
    pending_consent_ip: str | None = Field(default=None, max_length=64)
    pending_consent_user_agent: str | None = Field(default=None, max_length=500)
    # The topics that request asked for, applied on confirmation like the name: "all", or the
    # topic ids comma-separated ("3,5"). NULL: no pending request.
    pending_topics: str | None = Field(default=None, max_length=1000)
    # Ticked the (unticked by default) box "record which links I click": only then, and only
    # with DIGEST_TRACK_CLICKS=consented, are this reader's clicks kept (reader_click).
    click_consent_at: datetime | None = utc_field(nullable=True)
    # The signup asked for it too: applied with the rest when the mailbox owner confirms.
    pending_click_consent: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
