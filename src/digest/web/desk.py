"""The editor's desk, read side: GET /editor (overview), GET /editor/issues/{n} (one issue),
and each table as CSV (/editor/issues.csv, /editor/growth.csv, /editor/issues/{n}/links.csv).

Every page is behind the editor login (`EditorSession`); GET never changes state. The buttons
post to the action routes (approve, hold, send, pause, resume), which live beside the review
and send-request code. A running send's page updates its progress by itself: a small script
of ours (GET /editor/desk.js, the page's only one) asks GET /editor/issues/{n}/progress every
two seconds; without it the page has a reload link. (A meta refresh would do without script,
but reloading a page under a screen reader's cursor every few seconds fails WCAG 2.2.1.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from digest import delivery, editors, issues, stats
from digest.config import ClickTracking, Settings
from digest.db import session_scope
from digest.delivery import breaker
from digest.errors import InvalidInput, NotFound, NothingToSend
from digest.models import DeliveryStatus, Issue, IssueStatus
from digest.paths import WEB_TEMPLATES
from digest.render import passed
from digest.web import charts
from digest.web import editor_auth as auth
from digest.web.deps import SettingsDep, get_engine, now
from digest.web.desk_actions import flash_text
from digest.web.desk_clicks import (
    LINK_COLUMNS,
    clicks_context,
    closed_rates,
    flush_hits,
    issue_figures,
    link_rows,
)
from digest.web.editor_auth import EditorSession
from digest.web.pages import STRICT_CSP, render_page

router = APIRouter(prefix="/editor", tags=["editor"])

PROGRESS_SCRIPT = (WEB_TEMPLATES / "desk_progress.js").read_text(encoding="utf-8")
SCRIPT_CSP = STRICT_CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self';")
TALLY_SECONDS = 60.0  # how often the web process looks for sent issues to count
log = logging.getLogger(__name__)
ISSUE_COLUMNS = (
    "number", "status", "subject", "sent_at", "sent", "failed", "skipped", "queued",
    "delivered", "bounced", "complained", "unsubscribed_after", "bounce_rate", "complaint_rate",
)  # fmt: skip
GROWTH_COLUMNS = ("week", "confirmed", "unsubscribed", "bounced", "complained")


def desk_context(settings: Settings, session_id: str, section: str) -> dict[str, Any]:
    """What every desk page needs: the CSRF token for its forms and the current section."""
    return {"csrf": auth.csrf_token(settings, session_id), "section": section,
            "percent": charts.percent}  # fmt: skip


@router.get("")
@router.get("/")
def overview(request: Request, settings: SettingsDep, session_id: EditorSession) -> Response:
    with session_scope(get_engine(request), read_only=True) as session:
        values = {
            **desk_context(settings, session_id, "overview"),
            "notice": flash_text(request),
            **next_issue_context(session, settings),
            **figures_context(session, settings),
        }
    return render_page(request, "desk_overview.html", values)


def next_issue_context(session: Session, settings: Settings) -> dict[str, Any]:
    """The next issue: what it holds, when it goes out, to how many, its checks, its approval."""
    plan = issues.next_issue(session, settings, now=now())
    try:
        preview: issues.Preview | None = issues.preview_next_issue(session, settings, now=now())
    except (NothingToSend, InvalidInput):
        preview = None
    draft = issues.find_draft(session)
    return {
        "plan": plan,
        "draft": draft,
        # what the editor sees: an approval of a page that is out of date is refused
        "content": _content(session, settings, draft),
        "checks": preview.checks if preview else [],
        "ready": passed(preview.checks) if preview else False,
        "subject": preview.email.subject if preview else None,
    }


def _content(session: Session, settings: Settings, draft: Issue | None) -> str | None:
    try:
        return editors.content_hash(session, settings, draft, now=now())
    except NothingToSend:
        return None


def figures_context(session: Session, settings: Settings) -> dict[str, Any]:
    health = stats.list_health(session)
    weeks = stats.growth_series(session, now=now(), tz=settings.tz)
    figures = stats.issue_figures(session)
    return {
        "health": health,
        "weeks": weeks,
        "growth_chart": charts.growth_chart(weeks),
        "series": charts.SERIES,
        "figures": figures,
        "click_rates": closed_rates(session, figures),
        "clicks_tracked": settings.track_clicks != ClickTracking.OFF,
        "rate_chart": charts.rate_chart(figures),
        "lines": stats.COMPLAINT_LINES,
    }


@router.get("/issues.csv")
def issues_csv(request: Request, session_id: EditorSession) -> Response:
    with session_scope(get_engine(request), read_only=True) as session:
        figures = stats.issue_figures(session, limit=10_000)
    rows = [[f.as_dict()[c] for c in ISSUE_COLUMNS] for f in figures]
    return csv_response(stats.table_csv(ISSUE_COLUMNS, rows), "issues.csv")


@router.get("/growth.csv")
def growth_csv(request: Request, settings: SettingsDep, session_id: EditorSession) -> Response:
    with session_scope(get_engine(request), read_only=True) as session:
        weeks = stats.growth_series(session, now=now(), tz=settings.tz)
    rows = [[w.as_dict()[c] for c in GROWTH_COLUMNS] for w in weeks]
    return csv_response(stats.table_csv(GROWTH_COLUMNS, rows), "growth.csv")


def csv_response(lines: Any, filename: str) -> Response:
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/issues/{number}")
def issue_page(
    request: Request, number: str, settings: SettingsDep, session_id: EditorSession
) -> Response:
    issue_number = _number(number)
    flush_hits(request)
    with session_scope(get_engine(request), read_only=True) as session:
        issue = _issue(session, issue_number)
        if issue is None:
            return auth.not_found(request)
        ledger = stats.issue_ledger(session, issue)
        request_open = stats.open_request(session, issue.id or 0)
        delivered = ledger.deliveries.get(DeliveryStatus.SENT.value, 0)
        click_values = clicks_context(session, settings, issue, delivered)
    values = {
        **click_values,
        **desk_context(settings, session_id, "issues"),
        "notice": flash_text(request),
        "ledger": ledger,
        "issue": issue,
        "open_request": request_open,
        "watch": watching(issue.status, request_open is not None),
        "archived": issue.frozen_at is not None,
        # the breaker's pause is lifted only by a person: say so beside the Resume button
        "breaker_paused": breaker.tripped(issue.pause_reason),
    }
    response = render_page(request, "desk_issue.html", values)
    # The page's one script, served by us (GET /editor/desk.js): no inline code, no CDN.
    response.headers["Content-Security-Policy"] = SCRIPT_CSP
    return response


def watching(status: str, request_open: bool) -> bool:
    """Is there progress to watch: a send running, or a request a worker has yet to finish?"""
    return status == IssueStatus.SENDING or request_open


def _issue(session: Session, number: int | None) -> Issue | None:
    try:
        return delivery.issue_by_number(session, number) if number else None
    except NotFound:
        return None


@router.get("/issues/{number}/links.csv")
def links_csv(request: Request, number: str, _session_id: EditorSession) -> Response:
    """The issue page's per-link click table as CSV."""
    issue_number = _number(number)
    flush_hits(request)
    with session_scope(get_engine(request), read_only=True) as session:
        issue = _issue(session, issue_number)
        if issue is None:
            return auth.not_found(request)
        rows = link_rows(issue_figures(session, issue))
    return csv_response(stats.table_csv(LINK_COLUMNS, rows), f"issue-{issue_number}-links.csv")


@router.get("/issues/{number}/progress")
def issue_progress(request: Request, number: str, session_id: EditorSession) -> Response:
    """The counts the issue page's script shows while a send runs (JSON)."""
    issue_number = _number(number)
    with session_scope(get_engine(request), read_only=True) as session:
        try:
            issue = delivery.issue_by_number(session, issue_number or 0)
        except NotFound:
            return JSONResponse({"error": "there is no such issue"}, status_code=404)
        counts = delivery.issue_counts(session, issue.id or 0)
        request_open = stats.open_request(session, issue.id or 0) is not None
    total = sum(counts.values())
    body = {
        "status": str(issue.status),
        "total": total,
        "answered": total - counts[DeliveryStatus.QUEUED.value],
        "deliveries": counts,
        "watch": watching(issue.status, request_open),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/desk.js")
def progress_script(_session_id: EditorSession) -> Response:
    return Response(
        PROGRESS_SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _number(raw: str) -> int | None:
    """An issue number from the path; None for anything that is not one (a 404, not a 500)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 9:
        return int(raw)
    return None


async def keep_tallies(engine: Engine, *, every: float = TALLY_SECONDS) -> None:
    """The web process's own background work for the desk: count sent issues' figures (a few
    at a time) so the overview reads kept tallies (stats/tallies.py). Started by create_app."""
    while True:
        try:
            await run_in_threadpool(_count_due, engine)
        except Exception:
            log.exception("counting the desk's figures failed; trying again later")
        await asyncio.sleep(every)


def _count_due(engine: Engine) -> None:
    with session_scope(engine) as session:
        stats.refresh_tallies(session, now=now())
