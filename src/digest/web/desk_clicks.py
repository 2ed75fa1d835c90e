"""The "Clicks" part of the desk's issue page and its per-link CSV (issue 12, what the editor
sees): the same figures GET /api/issues/{n}/clicks serves (clicks.issue_click_figures).

The desk's GET pages change nothing, so the figures are read in a read-only session and due
windows are left for the API and the workers to close: while a window is open (or due but not
yet closed) the figures come from the hits, which give the same numbers as the counts.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session, col, select

from digest import clicks
from digest.clicks.figures import ClickFigures
from digest.config import ClickTracking, Settings, Switch
from digest.models import ClickTotal, Issue
from digest.stats import IssueFigures

LINK_COLUMNS = ("label", "url", "raw_hits", "raw_unique", "human_hits", "human_unique")


def flush_hits(request: Request) -> None:
    """Write the hits still queued in this process, so the page counts the last moment's."""
    request.app.state.hits.flush()


def clicks_context(
    session: Session, settings: Settings, issue: Issue, delivered: int
) -> dict[str, Any]:
    """What the Clicks section shows: nothing is counted when tracking is off. `delivered` is
    the issue's copies handed to the provider, as the ledger section counted them."""
    tracked = settings.track_clicks != ClickTracking.OFF
    figures = issue_figures(session, issue, delivered) if tracked else None
    return {
        "tracking": str(settings.track_clicks),
        "clicks": figures,
        "opens_tracked": settings.track_opens == Switch.ON,
    }


def issue_figures(session: Session, issue: Issue, delivered: int | None = None) -> ClickFigures:
    assert issue.id is not None  # an issue read from the database
    return clicks.issue_click_figures(session, issue.id, delivered_copies=delivered)


def link_rows(figures: ClickFigures) -> list[list[object]]:
    """The per-link table as CSV rows, in the page's order (most clicked by people first)."""
    return [[getattr(link, c) for c in LINK_COLUMNS] for link in figures.links]


def closed_rates(session: Session, figures: list[IssueFigures]) -> dict[int, tuple[float, float]]:
    """The overview's human click rate and bot share, by issue number, for issues whose counting
    window has closed: one small query on the totals the windows left. An open window's figures
    would mean reading every hit of every issue listed, too slow for the overview, so those
    show on the issue's own page only."""
    numbers = [f.number for f in figures]
    if not numbers:
        return {}
    rows = session.exec(
        select(Issue.number, ClickTotal)
        .join(ClickTotal, col(ClickTotal.issue_id) == col(Issue.id))
        .where(col(Issue.number).in_(numbers))
    ).all()
    sent = {f.number: f.sent for f in figures}
    return {number: _rates(total, sent[number]) for number, total in rows}


def _rates(total: ClickTotal, sent: int) -> tuple[float, float]:
    # the same arithmetic as ClickFigures.click_rate and .bot_share (sent copies = delivered)
    click_rate = total.human_clickers / sent if sent else 0.0
    bot_share = 1 - total.human_hits / total.raw_hits if total.raw_hits else 0.0
    return click_rate, bot_share
