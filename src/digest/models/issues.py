"""Weekly issues: one per period, numbered, frozen when sending begins."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class IssueStatus(StrEnum):
    DRAFT = "draft"  # claimed for its period; editor overrides may be set; not frozen
    SENDING = "sending"  # frozen: subject, preheader, html and text never change again
    PAUSED = "paused"  # frozen; quota spent or provider down: resumes later (pause_reason says)
    SENT = "sent"  # every delivery reached a final state


class Issue(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    period: str = Field(max_length=10, unique=True)  # ISO week in DIGEST_TIMEZONE, "2026-W47"
    status: IssueStatus = Field(sa_type=String(10), index=True)
    window_start: datetime | None = utc_field(nullable=True)
    cutoff: datetime | None = utc_field(nullable=True)
    subject_override: str | None = Field(default=None, max_length=200)
    editor_note: str | None = Field(default=None, max_length=2000)
    subject: str | None = Field(default=None, max_length=200)
    preheader: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    pause_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_field(default_now=True)
    frozen_at: datetime | None = utc_field(nullable=True)
    sent_at: datetime | None = utc_field(nullable=True)
    # issue 11, the desk: approval is of the content hash the editor saw (editors/review.py)
    approved_hash: str | None = Field(default=None, max_length=64)
    approved_by: str | None = Field(default=None, max_length=340)
    approved_at: datetime | None = utc_field(nullable=True)
    paused_by: str | None = Field(default=None, max_length=340)  # an editor's pause: no auto-resume
    review_notice_at: datetime | None = utc_field(nullable=True)  # the review reminder went out


class IssueComparison(SQLModel, table=True):
    """The comparisons an issue carries, in order; `featured` ones get a full card."""

    __tablename__ = "issue_comparison"

    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True)
    )
    comparison_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("comparison.id", ondelete="RESTRICT"), primary_key=True
        )
    )
    position: int = Field(ge=0)
    featured: bool = True


class IssueVariant(SQLModel, table=True):
    """The issue as readers of one topic set get it: only the week's comparisons in those
    topics, fitted and frozen once (the MJML is compiled once per variant, never per reader).
    Readers who take every topic get the issue's own copy (`Delivery.variant_id` is NULL)."""

    __tablename__ = "issue_variant"
    __table_args__ = (UniqueConstraint("issue_id", "topic_key"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False)
    )
    topic_key: str = Field(max_length=1000)  # the topic ids, sorted, comma-separated: "3,5"
    subject: str = Field(max_length=200)
    preheader: str = Field(max_length=300)
    html: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = utc_field(default_now=True)
