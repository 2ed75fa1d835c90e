"""Comparisons and tools in the store: import (all-or-nothing upsert by slug) and list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from digest.catalog import topics
from digest.catalog.format import ComparisonIn, ToolIn
from digest.catalog.views import ComparisonView, load_views
from digest.errors import InvalidInput
from digest.models import Comparison, ComparisonTool, Review, Tool


@dataclass
class ImportReport:
    comparisons_created: int = 0
    comparisons_updated: int = 0
    tools_created: int = 0
    tools_updated: int = 0
    slugs: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.comparisons_created + self.comparisons_updated


def import_comparisons(
    session: Session, documents: Sequence[tuple[str, list[ComparisonIn]]], *, now: datetime
) -> ImportReport:
    """Upsert every comparison of every (source, comparisons) document; the caller commits.

    Comparisons and tools are matched by slug, so re-importing an edited file updates and
    never duplicates. Raises InvalidInput before writing anything if the documents disagree.
    """
    _reject_cross_document_repeats(documents)
    report = ImportReport()
    tools: dict[str, Tool] = {}
    for _source, comparisons in documents:
        for item in comparisons:
            members = [_upsert_tool(session, spec, tools, report, now=now) for spec in item.tools]
            _upsert_comparison(session, item, members, report, now=now)
    session.flush()
    return report


def _reject_cross_document_repeats(documents: Sequence[tuple[str, list[ComparisonIn]]]) -> None:
    first_source: dict[str, str] = {}
    for source, comparisons in documents:
        for item in comparisons:
            if item.slug in first_source:
                raise InvalidInput(
                    source, [("slug", f"{item.slug!r} is also in {first_source[item.slug]}")]
                )
            first_source[item.slug] = source


def _upsert_tool(
    session: Session, spec: ToolIn, seen: dict[str, Tool], report: ImportReport, *, now: datetime
) -> Tool:
    tool = seen.get(spec.slug) or session.exec(select(Tool).where(Tool.slug == spec.slug)).first()
    if tool is None:
        tool = Tool(slug=spec.slug, name=spec.name, created_at=now, updated_at=now)
        session.add(tool)
        report.tools_created += 1
    elif spec.slug not in seen:
        report.tools_updated += 1
    _apply_tool_fields(tool, spec, now=now)
    session.flush()
    topics.topic_for_category(session, tool.category, now=now)  # a new category: a new topic
    assert tool.id is not None
    _upsert_reviews(session, tool.id, spec)
    seen[spec.slug] = tool
    return tool


def _apply_tool_fields(tool: Tool, spec: ToolIn, *, now: datetime) -> None:
    given = spec.model_fields_set
    for name in ("name", "category", "tagline", "description", "best_for", "community_votes"):
        if name in given:
            setattr(tool, name, getattr(spec, name))
    if spec.pricing is not None:
        if "entry" in spec.pricing.model_fields_set:
            tool.pricing_entry = spec.pricing.entry
        if "text" in spec.pricing.model_fields_set:
            tool.pricing_text = spec.pricing.text
    tool.updated_at = now


def _upsert_reviews(session: Session, tool_id: int, spec: ToolIn) -> None:
    stored = {
        review.persona: review
        for review in session.exec(select(Review).where(Review.tool_id == tool_id))
    }
    for persona, given in spec.reviews.items():
        review = stored.get(persona) or Review(tool_id=tool_id, persona=persona)
        for name in given.model_fields_set:
            setattr(review, name, getattr(given, name))
        session.add(review)


def _upsert_comparison(
    session: Session,
    item: ComparisonIn,
    members: list[Tool],
    report: ImportReport,
    *,
    now: datetime,
) -> None:
    comparison = session.exec(select(Comparison).where(Comparison.slug == item.slug)).first()
    if comparison is None:
        # A page that shows no publication time counts as published when we first saw it.
        comparison = Comparison(
            slug=item.slug, title=item.title, published_at=item.published_at or now, created_at=now
        )
        session.add(comparison)
        report.comparisons_created += 1
    else:
        report.comparisons_updated += 1
        if item.published_at is not None:
            comparison.published_at = item.published_at
    comparison.title = item.title
    if "url" in item.model_fields_set:
        comparison.url = item.url
    comparison.updated_at = now
    session.flush()
    _replace_members(session, comparison, members)
    report.slugs.append(item.slug)


def _replace_members(session: Session, comparison: Comparison, members: list[Tool]) -> None:
    assert comparison.id is not None
    for link in session.exec(
        select(ComparisonTool).where(ComparisonTool.comparison_id == comparison.id)
    ):
        session.delete(link)
    session.flush()
    for position, tool in enumerate(members):
        assert tool.id is not None
        session.add(ComparisonTool(comparison_id=comparison.id, position=position, tool_id=tool.id))


def list_comparisons(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> list[ComparisonView]:
    """Comparisons published in (since, until], newest first, with their tools and reviews."""
    query = select(Comparison).order_by(col(Comparison.published_at).desc(), col(Comparison.id))
    if since is not None:
        query = query.where(Comparison.published_at > since)
    if until is not None:
        query = query.where(Comparison.published_at <= until)
    return load_views(session, session.exec(query).all())
