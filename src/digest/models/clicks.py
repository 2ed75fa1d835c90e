"""Clicks (issue 12): what readers' clicks leave in the store, and for how long.

While an issue's click window is open (DIGEST_CLICK_WINDOW_DAYS) each hit on a tracked link is a
`ClickHit` row: the link, a keyed hash of the delivery (never the delivery or the reader), a
keyed hash of the client (IP and user agent, never stored raw), the time and the signals seen.
The key of both hashes is the issue's `ClickKey`. When the window closes the hits are folded
into `ClickCount` rows and deleted with the key: after that only counts remain.

`ReaderClick` is the one table that names a reader, and only readers who ticked the consent box
get rows (DIGEST_TRACK_CLICKS=consented); withdrawing deletes them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class LinkKind(StrEnum):
    COMPARISON = "comparison"  # a comparison on the site
    CANARY = "canary"  # hidden from people: whoever follows it is a machine
    PIXEL = "pixel"  # the open pixel (DIGEST_TRACK_OPENS=on)


class ClickKey(SQLModel, table=True):
    """The issue's random key for the delivery and client hashes; deleted when its window
    closes, so a hash can no longer be matched to a delivery or a client."""

    __tablename__ = "click_key"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    secret: str = Field(max_length=64)
    closes_at: datetime = utc_field(index=True)


class ClickLink(SQLModel, table=True):
    """One tracked link of an issue: its id inside the issue, what it points at."""

    __tablename__ = "click_link"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    link_id: int = Field(primary_key=True)
    kind: LinkKind = Field(sa_type=String(12))
    comparison_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("comparison.id", ondelete="SET NULL"), nullable=True),
    )
    url: str = Field(max_length=1000)
    label: str = Field(max_length=300)


class ClickHit(SQLModel, table=True):
    """One request on a tracked link while the window is open. No reader id, no delivery id,
    no address, no raw IP or user agent."""

    __tablename__ = "click_hit"
    __table_args__ = (Index("ix_click_hit_issue_client", "issue_id", "client_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False)
    )
    link_id: int
    delivery_hash: str | None = Field(default=None, max_length=32)  # None: no valid tag
    client_hash: str = Field(max_length=32)
    method: str = Field(max_length=8)
    signals: str = Field(default="", max_length=100)  # seen at the hit: "head,agent,..."
    at: datetime = utc_field()


class ClickCount(SQLModel, table=True):
    """A link's figures once the issue's window has closed (only counts remain)."""

    __tablename__ = "click_count"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    link_id: int = Field(primary_key=True)
    raw_hits: int = 0
    raw_unique: int = 0
    human_hits: int = 0
    human_unique: int = 0


class ClickTotal(SQLModel, table=True):
    """An issue's figures that are not per link (unique human clickers over all links), kept
    when the window closes."""

    __tablename__ = "click_total"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    raw_hits: int = 0
    human_hits: int = 0
    human_clickers: int = 0
    canary_hits: int = 0
    human_openers: int = 0
    proxy_opens: int = 0


class ReaderClick(SQLModel, table=True):
    """A consenting reader's click (DIGEST_TRACK_CLICKS=consented only)."""

    __tablename__ = "reader_click"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False)
    )
    link_id: int
    at: datetime = utc_field()


class ProviderCount(SQLModel, table=True):
    """The provider's own engagement figures (Resend `email.opened` / `email.clicked`),
    counted per issue and event, beside ours; which reader it was is not kept."""

    __tablename__ = "provider_count"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    event: str = Field(max_length=20, primary_key=True)
    count: int = 0
