"""What the editor's desk shows for an issue: delivered, unique human clicks, click rate, bot
share, the comparisons (and their tools) ranked by clicks, and per link raw and filtered counts.

While the window is open the figures are computed from the hits; once it has closed they come
from the counts the window left (window.py). Both paths give the same figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest.clicks.classify import Hit, machine_hits
from digest.clicks.keys import CANARY, PIXEL
from digest.models import (
    ClickCount,
    ClickHit,
    ClickLink,
    ClickTotal,
    ComparisonTool,
    Delivery,
    DeliveryStatus,
    LinkKind,
    ProviderCount,
    Tool,
)


@dataclass
class LinkFigures:
    link_id: int
    label: str
    url: str
    comparison_id: int | None
    raw_hits: int = 0
    raw_unique: int = 0
    human_hits: int = 0
    human_unique: int = 0


@dataclass
class ToolFigures:
    name: str
    human_unique: int  # unique human clicks on the comparisons it appears in


@dataclass
class ClickFigures:
    issue_id: int
    delivered: int
    human_clickers: int  # deliveries with at least one human click
    raw_hits: int
    human_hits: int
    links: list[LinkFigures]  # comparisons, most clicked (by people) first
    tools: list[ToolFigures] = field(default_factory=list)
    canary_hits: int = 0
    human_openers: int = 0  # only with DIGEST_TRACK_OPENS=on; proxies never count
    proxy_opens: int = 0
    provider: dict[str, int] = field(default_factory=dict)  # the provider's own numbers
    window_closed: bool = False

    @property
    def click_rate(self) -> float:
        return self.human_clickers / self.delivered if self.delivered else 0.0

    @property
    def bot_share(self) -> float:
        return 1 - self.human_hits / self.raw_hits if self.raw_hits else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "click_rate": self.click_rate, "bot_share": self.bot_share}


def issue_click_figures(
    session: Session, issue_id: int, *, delivered_copies: int | None = None
) -> ClickFigures:
    """The issue's click figures (read-only; call window.close_due_windows first to fold
    windows that have closed). A caller that has counted the issue's delivered copies already
    (the desk reads a sent issue's from its tally) passes them: counting them again reads
    every copy of the issue, most of the page's time at 100,000 readers on PostgreSQL."""
    links = {
        link.link_id: link
        for link in session.exec(select(ClickLink).where(col(ClickLink.issue_id) == issue_id))
    }
    total = session.get(ClickTotal, issue_id)
    figures = (
        _from_counts(session, issue_id, links, total)
        if total is not None
        else figures_from_hits(session, issue_id, links)
    )
    figures.delivered = (
        delivered(session, issue_id) if delivered_copies is None else delivered_copies
    )
    figures.links.sort(key=lambda f: (-f.human_unique, -f.human_hits, f.link_id))
    figures.tools = rank_tools(session, figures.links)
    figures.provider = provider_figures(session, issue_id)
    return figures


def delivered(session: Session, issue_id: int) -> int:
    query = select(func.count()).where(
        col(Delivery.issue_id) == issue_id, col(Delivery.status) == DeliveryStatus.SENT
    )
    return int(session.exec(query).one())


def load_hits(session: Session, issue_id: int) -> list[Hit]:
    rows = session.exec(
        select(ClickHit).where(col(ClickHit.issue_id) == issue_id).order_by(col(ClickHit.id))
    ).all()
    return [
        Hit(
            r.link_id,
            r.delivery_hash,
            r.client_hash,
            r.at,
            frozenset(filter(None, r.signals.split(","))),
        )
        for r in rows
    ]


def figures_from_hits(session: Session, issue_id: int, links: dict[int, ClickLink]) -> ClickFigures:
    hits = load_hits(session, issue_id)
    machine = machine_hits(hits)
    per_link = {i: _blank(link) for i, link in links.items() if link.kind == LinkKind.COMPARISON}
    raw_unique: dict[int, set[str]] = defaultdict(set)
    human_unique: dict[int, set[str]] = defaultdict(set)
    clickers: set[str] = set()
    openers: set[str] = set()
    proxies = canary = 0
    for hit, is_machine in zip(hits, machine, strict=True):
        if hit.link_id == PIXEL:
            proxied = "proxy" in hit.signals
            proxies += proxied
            if not (proxied or is_machine) and hit.delivery_hash:
                openers.add(hit.delivery_hash)
            continue
        if hit.link_id == CANARY or hit.link_id not in per_link:
            canary += hit.link_id == CANARY
            continue
        figures = per_link[hit.link_id]
        figures.raw_hits += 1
        if hit.delivery_hash:
            raw_unique[hit.link_id].add(hit.delivery_hash)
        if not is_machine:
            figures.human_hits += 1
            if hit.delivery_hash:
                human_unique[hit.link_id].add(hit.delivery_hash)
                clickers.add(hit.delivery_hash)
    for link_id, figures in per_link.items():
        figures.raw_unique = len(raw_unique[link_id])
        figures.human_unique = len(human_unique[link_id])
    return ClickFigures(
        issue_id=issue_id,
        delivered=0,
        human_clickers=len(clickers),
        raw_hits=sum(f.raw_hits for f in per_link.values()),
        human_hits=sum(f.human_hits for f in per_link.values()),
        links=list(per_link.values()),
        canary_hits=canary,
        human_openers=len(openers),
        proxy_opens=proxies,
    )


def _from_counts(
    session: Session, issue_id: int, links: dict[int, ClickLink], total: ClickTotal
) -> ClickFigures:
    counts = session.exec(select(ClickCount).where(col(ClickCount.issue_id) == issue_id)).all()
    per_link = []
    for count in counts:
        link = links.get(count.link_id)
        if link is None or link.kind != LinkKind.COMPARISON:
            continue
        figures = _blank(link)
        figures.raw_hits, figures.raw_unique = count.raw_hits, count.raw_unique
        figures.human_hits, figures.human_unique = count.human_hits, count.human_unique
        per_link.append(figures)
    return ClickFigures(
        issue_id=issue_id,
        delivered=0,
        human_clickers=total.human_clickers,
        raw_hits=total.raw_hits,
        human_hits=total.human_hits,
        links=per_link,
        canary_hits=total.canary_hits,
        human_openers=total.human_openers,
        proxy_opens=total.proxy_opens,
        window_closed=True,
    )


def _blank(link: ClickLink) -> LinkFigures:
    return LinkFigures(link.link_id, link.label, link.url, link.comparison_id)


def rank_tools(session: Session, links: Sequence[LinkFigures]) -> list[ToolFigures]:
    """Tools carry no link of their own in the email: each is credited with the unique human
    clicks of the comparisons it appears in."""
    by_comparison = {f.comparison_id: f.human_unique for f in links if f.comparison_id}
    if not by_comparison:
        return []
    rows = session.exec(
        select(ComparisonTool.comparison_id, Tool.name)
        .join(Tool, col(Tool.id) == col(ComparisonTool.tool_id))
        .where(col(ComparisonTool.comparison_id).in_(list(by_comparison)))
    ).all()
    clicks: Counter[str] = Counter()
    for comparison_id, name in rows:
        clicks[name] += by_comparison[comparison_id]
    return [ToolFigures(name, n) for name, n in sorted(clicks.items(), key=lambda i: (-i[1], i[0]))]


def provider_figures(session: Session, issue_id: int) -> dict[str, int]:
    rows = session.exec(select(ProviderCount).where(col(ProviderCount.issue_id) == issue_id))
    return {row.event: row.count for row in rows}
