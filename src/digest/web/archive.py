"""The public archive: GET /issues, GET /issues/{number}, GET /feed.xml.

An issue is public once its sending has begun (the "view in browser" link in the emails that
already went out must work); the web copy carries no one's personal links.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest import issues
from digest.db import utcnow
from digest.errors import NotFound
from digest.render import public_copy, render_feed
from digest.web.deps import ReadSessionDep, SettingsDep
from digest.web.pages import PAGE_HEADERS, render_page

router = APIRouter(tags=["archive"])

MAX_ISSUE_NUMBER = 2_147_483_647  # the column is a 32-bit integer on PostgreSQL


@router.get("/issues", response_class=HTMLResponse)
def archive_index(request: Request, session: ReadSessionDep, settings: SettingsDep) -> Response:
    published = issues.list_published(session)
    rows = [
        {
            "number": issue.number,
            "subject": issue.subject,
            "preheader": issue.preheader,
            "date": issue.frozen_at.astimezone(settings.tz) if issue.frozen_at else None,
            # a valid HTML datetime: whole seconds and an offset, never microseconds
            "datetime": (
                issue.frozen_at.astimezone(settings.tz).isoformat(timespec="seconds")
                if issue.frozen_at
                else None
            ),
        }
        for issue in published
    ]
    return render_page(request, "archive.html", {"issues": rows})


@router.get("/issues/{number}", response_class=HTMLResponse)
def archive_issue(
    request: Request, number: str, session: ReadSessionDep, settings: SettingsDep
) -> Response:
    """The frozen issue as it went out, with generic unsubscribe/preferences links."""
    # The length first: int() refuses a 4301-digit string with a ValueError (a 500).
    if (
        not number.isascii()
        or not number.isdigit()
        or len(number) > len(str(MAX_ISSUE_NUMBER))
        or not 0 < int(number) <= MAX_ISSUE_NUMBER
    ):
        return _missing(request, number)
    try:
        issue = issues.get_published(session, int(number))
    except NotFound:
        return _missing(request, number)
    copy = public_copy(settings, issues.frozen_email(issue))
    return HTMLResponse(copy.html, headers=PAGE_HEADERS)


def _missing(request: Request, number: str) -> Response:
    return render_page(request, "issue_missing.html", {"number": number[:40]}, status_code=404)


@router.get("/feed.xml")
def archive_feed(session: ReadSessionDep, settings: SettingsDep) -> Response:
    body = render_feed(settings, issues.list_published(session)[:50], now=utcnow())
    headers = {"Cache-Control": "public, max-age=600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)
