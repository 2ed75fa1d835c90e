"""Comparisons as the renderer sees them: tools in page order, reviews in persona order, and
the panel verdict derived from the four reviews (never stored)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest.models import Comparison, ComparisonTool, Persona, Review, Tool, Verdict

PERSONA_ORDER = tuple(Persona)


@dataclass(frozen=True)
class Panel:
    """The panel verdict, always derived from the four reviews, never stored."""

    ship: int
    skip: int
    average_score: float | None

    @property
    def votes(self) -> int:
        return self.ship + self.skip

    @property
    def percent_ship(self) -> int | None:
        return round(100 * self.ship / self.votes) if self.votes else None

    @property
    def verdict(self) -> Verdict | None:
        if not self.votes:
            return None
        return Verdict.SHIP if self.ship > self.skip else Verdict.SKIP

    @property
    def tally(self) -> str:
        return f"{self.ship} ship / {self.skip} skip"


@dataclass(frozen=True)
class ToolView:
    tool: Tool
    reviews: tuple[Review, ...]

    @property
    def panel(self) -> Panel:
        verdicts = [review.verdict for review in self.reviews]
        scores = [review.score for review in self.reviews if review.score is not None]
        average = round(sum(scores) / len(scores), 1) if scores else None
        return Panel(verdicts.count(Verdict.SHIP), verdicts.count(Verdict.SKIP), average)

    def review(self, persona: Persona) -> Review | None:
        return next((review for review in self.reviews if review.persona == persona), None)


@dataclass(frozen=True)
class ComparisonView:
    comparison: Comparison
    tools: tuple[ToolView, ...]

    def link(self, site_url: str) -> str:
        """The comparison on the site; pages without a known URL live at /compare/{slug}."""
        return self.comparison.url or f"{site_url}/compare/{self.comparison.slug}"


def load_views(session: Session, comparisons: Iterable[Comparison]) -> list[ComparisonView]:
    """Attach tools (in page order) and reviews (in persona order) to comparisons: 3 queries."""
    comparisons = list(comparisons)
    ids = [c.id for c in comparisons]
    links = session.exec(
        select(ComparisonTool)
        .where(col(ComparisonTool.comparison_id).in_(ids))
        .order_by(col(ComparisonTool.comparison_id), col(ComparisonTool.position))
    ).all()
    tool_ids = {link.tool_id for link in links}
    tools = {t.id: t for t in session.exec(select(Tool).where(col(Tool.id).in_(tool_ids)))}
    reviews: dict[int, list[Review]] = {}
    for review in session.exec(select(Review).where(col(Review.tool_id).in_(tool_ids))):
        reviews.setdefault(review.tool_id, []).append(review)
    views = []
    for comparison in comparisons:
        members = [link.tool_id for link in links if link.comparison_id == comparison.id]
        views.append(
            ComparisonView(comparison, tuple(_tool_view(tools[i], reviews) for i in members))
        )
    return views


def _tool_view(tool: Tool, reviews: dict[int, list[Review]]) -> ToolView:
    assert tool.id is not None
    ordered = sorted(
        reviews.get(tool.id, []), key=lambda r: PERSONA_ORDER.index(Persona(r.persona))
    )
    return ToolView(tool, tuple(ordered))


class CatalogVersion(NamedTuple):
    tag: str  # changes whenever a comparison, a tool or a review does
    changed_at: datetime | None  # the newest change


def catalog_version(session: Session) -> CatalogVersion:
    """Every import stamps `updated_at` on what it touches (a review through its tool); a count
    catches a deletion: what the published pages show of the catalog is cached and validated
    against this."""
    parts, times = [], []
    for table in (Comparison, Tool):
        newest, count = session.exec(select(func.max(table.updated_at), func.count())).one()
        parts.append(f"{newest.isoformat() if newest else '-'}/{count}")
        times.extend([newest] if newest else [])
    return CatalogVersion(";".join(parts), max(times, default=None))
