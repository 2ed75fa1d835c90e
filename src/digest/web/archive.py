"""The public archive: GET /issues, GET /issues/{number} (and its share image), GET /feed.xml.

An issue is public once its sending has begun (the "view in browser" link in the emails that
already went out must work). Its web page is a page of our site (issue_page.py), not the email:
no "you get this because", no unsubscribe links, a subscribe box instead.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest import issues
from digest.config import Settings
from digest.db import utcnow
from digest.errors import NotFound
from digest.models import Issue
from digest.readers import defences
from digest.render import render_feed
from digest.web import issue_page
from digest.web.deps import ReadSessionDep, SettingsDep, now
from digest.web.pages import render_page

router = APIRouter(tags=["archive"])

MAX_ISSUE_NUMBER = 2_147_483_647  # the column is a 32-bit integer on PostgreSQL
FEED_ENTRIES = 50
IMAGE_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
MAX_IMAGES = 32  # share images kept drawn, per process (a frozen issue's never changes)
_IMAGES: dict[tuple[Settings, int, datetime | None], bytes] = {}


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


def _published(session: ReadSessionDep, number: str) -> Issue | None:
    # The length first: int() refuses a 4301-digit string with a ValueError (a 500).
    if (
        not number.isascii()
        or not number.isdigit()
        or len(number) > len(str(MAX_ISSUE_NUMBER))
        or not 0 < int(number) <= MAX_ISSUE_NUMBER
    ):
        return None
    try:
        return issues.get_published(session, int(number))
    except NotFound:
        return None


@router.get("/issues/{number}", response_class=HTMLResponse)
def archive_issue(
    request: Request, number: str, session: ReadSessionDep, settings: SettingsDep
) -> Response:
    """The issue as a page of the site: its cards, share tags and a subscribe box."""
    issue = _published(session, number)
    if issue is None:
        return _missing(request, number)
    cards = issue_page.issue_cards(session, settings, issue)
    context = issue_page.page_context(settings, issue, cards)
    context["form_stamp"] = defences.make_form_stamp(settings.secret, now=now())
    return render_page(request, "issue.html", context)


@router.get("/issues/{number}/share.png")
def share_image(number: str, session: ReadSessionDep, settings: SettingsDep) -> Response:
    """The 1200x630 image that link previews show (drawn once per issue and process)."""
    issue = _published(session, number)
    if issue is None:
        return Response(b"", status_code=404)
    key = (settings, issue.number, issue.frozen_at)
    png = _IMAGES.get(key)
    if png is None:
        png = issue_page.share_png(
            settings, issue, issue_page.issue_cards(session, settings, issue)
        )
        if len(_IMAGES) >= MAX_IMAGES:
            _IMAGES.clear()
        _IMAGES[key] = png
    return Response(png, media_type="image/png", headers=IMAGE_HEADERS)


def _missing(request: Request, number: str) -> Response:
    return render_page(request, "issue_missing.html", {"number": number[:40]}, status_code=404)


@router.get("/feed.xml")
def archive_feed(session: ReadSessionDep, settings: SettingsDep) -> Response:
    """Atom, with each issue's full content (the cards, as its web page shows them)."""
    published = issues.list_published(session)[:FEED_ENTRIES]
    contents = {
        issue.number: issue_page.issue_content(
            settings, issue, issue_page.issue_cards(session, settings, issue)
        )
        for issue in published
    }
    body = render_feed(settings, published, now=utcnow(), contents=contents)
    headers = {"Cache-Control": "public, max-age=600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)
