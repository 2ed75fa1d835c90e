"""The comparison catalog: tools (shared by slug), their persona reviews, and comparisons."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class Persona(StrEnum):
    BUILDER = "builder"
    SKEPTIC = "skeptic"
    FOUNDER = "founder"
    FUTURIST = "futurist"


class Verdict(StrEnum):
    SHIP = "ship"
    SKIP = "skip"


class Tool(SQLModel, table=True):
    """One AI tool; the same tool appears with the same reviews in every comparison."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)
    name: str = Field(max_length=200)
    category: str | None = Field(default=None, max_length=120)
    tagline: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    pricing_entry: str | None = Field(default=None, max_length=60)
    pricing_text: str | None = Field(default=None, max_length=1000)
    best_for: str | None = Field(default=None, max_length=500)
    community_votes: int | None = Field(default=None, ge=0)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class Review(SQLModel, table=True):
    """One persona's take on one tool: score out of 100, ship/skip, and a paragraph."""

    __table_args__ = (
        UniqueConstraint("tool_id", "persona"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tool_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tool.id", ondelete="CASCADE"), nullable=False)
    )
    persona: Persona = Field(sa_type=String(20))
    score: int | None = None
    verdict: Verdict | None = Field(default=None, sa_type=String(10))
    text: str | None = Field(default=None, max_length=5000)


class Comparison(SQLModel, table=True):
    """ "Tool A vs Tool B", as published on the site."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=200, unique=True)
    title: str = Field(max_length=300)
    url: str | None = Field(default=None, max_length=1000)
    published_at: datetime = utc_field(index=True)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class ComparisonTool(SQLModel, table=True):
    """Which tools a comparison sets side by side, in page order."""

    __tablename__ = "comparison_tool"
    __table_args__ = (UniqueConstraint("comparison_id", "tool_id"),)

    comparison_id: int = Field(
        sa_column=Column(Integer, ForeignKey("comparison.id", ondelete="CASCADE"), primary_key=True)
    )
    position: int = Field(primary_key=True, ge=0)
    tool_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tool.id", ondelete="RESTRICT"), nullable=False)
    )
