"""The "Clicks" part of the desk's issue page and its per-link CSV (issue 12, what the editor
sees): the same figures GET /api/issues/{n}/clicks serves (clicks.issue_click_figures).

The desk's GET pages change nothing, so the figures are read in a read-only session and due
windows are left for the API and the workers to close: while a window is open (or due but not
yet closed) the figures come from the hits, which give the same numbers as the counts.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session

from digest import clicks
from digest.clicks.figures import ClickFigures
from digest.config import ClickTracking, Settings, Switch
from digest.models import Issue

LINK_COLUMNS = ("label", "url", "raw_hits", "raw_unique", "human_hits", "human_unique")


def flush_hits(request: Request) -> None:
    """Write the hits still queued in this process, so the page counts the last moment's."""
    request.app.state.hits.flush()


def clicks_context(session: Session, settings: Settings, issue: Issue) -> dict[str, Any]:
    """What the Clicks section shows: nothing is counted when tracking is off."""
    tracked = settings.track_clicks != ClickTracking.OFF
    figures = issue_figures(session, issue) if tracked else None
    return {
        "tracking": str(settings.track_clicks),
        "clicks": figures,
        "opens_tracked": settings.track_opens == Switch.ON,
    }


def issue_figures(session: Session, issue: Issue) -> ClickFigures:
    assert issue.id is not None  # an issue read from the database
    return clicks.issue_click_figures(session, issue.id)


def link_rows(figures: ClickFigures) -> list[list[object]]:
    """The per-link table as CSV rows, in the page's order (most clicked by people first)."""
    return [[getattr(link, c) for c in LINK_COLUMNS] for link in figures.links]
