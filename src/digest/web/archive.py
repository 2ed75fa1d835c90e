"""The public archive: GET /issues, GET /issues/{number} (and its share image), GET /feed.xml.

An issue is public once its sending has begun (the "view in browser" link in the emails that
already went out must work). Its web page is a page of our site (issue_page.py), not the email:
no "you get this because", no unsubscribe links, a subscribe box instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from digest import catalog, issues
from digest.config import Settings
from digest.db import session_scope, utcnow
from digest.errors import NotFound
from digest.models import Issue
from digest.readers import defences
from digest.render import render_feed
from digest.web import conditional, issue_page
from digest.web.deps import ReadSessionDep, SettingsDep, get_engine, get_settings_dep, now
from digest.web.pages import render_page
from digest.web.published import Published, published

router = APIRouter(tags=["archive"])

MAX_ISSUE_NUMBER = 2_147_483_647  # the column is a 32-bit integer on PostgreSQL
FEED_ENTRIES = 50
IMAGE_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
MAX_IMAGES = 32  # share images kept drawn, per process (a frozen issue's never changes)
_IMAGES: dict[tuple[Settings, int, datetime | None], bytes] = {}
# A sent issue's page carries a single-use form stamp: a browser may keep it but must ask
# again each time (no-cache), and a shared cache must not hand one stamp to many (private).
ISSUE_CACHING = {"Cache-Control": "private, no-cache"}
STAMP_LEFT = timedelta(hours=12)  # a kept page's stamp is good for this much longer, or no 304
FEED_CACHING = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
ATOM = "application/atom+xml; charset=utf-8"
MAX_FEEDS = 4  # feed bodies kept built, per process (one per tag)
_FEEDS: dict[str, bytes] = {}


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


def _valid_number(number: str) -> bool:
    # The length first: int() refuses a 4301-digit string with a ValueError (a 500).
    return (
        number.isascii()
        and number.isdigit()
        and len(number) <= len(str(MAX_ISSUE_NUMBER))
        and 0 < int(number) <= MAX_ISSUE_NUMBER
    )


def _published(session: ReadSessionDep, number: str) -> Issue | None:
    if not _valid_number(number):
        return None
    try:
        return issues.get_published(session, int(number))
    except NotFound:
        return None


@router.api_route("/issues/{number}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def archive_issue(request: Request, number: str) -> Response:
    """The issue as a page of the site: its cards, share tags and a subscribe box. (No
    dependencies here: FastAPI runs a sync one in a worker thread, a hop per request.)"""
    settings = get_settings_dep(request)
    state = published(request)
    issue = _published_number(state, number)
    if issue is None:
        return _missing(request, number)
    parts = (issue.id, issue.number, issue.frozen_at, state.version.tag)
    kept = _kept_page_tag(request, settings, parts)
    if kept is not None:
        return conditional.not_modified({"ETag": kept, **ISSUE_CACHING})
    page = issue_page.cached_page_context(get_engine(request), settings, issue, state.version)
    stamp = defences.make_form_stamp(settings.secret, now=now())
    response = render_page(request, "issue.html", {**page, "form_stamp": stamp})
    response.headers.update(
        {"ETag": conditional.make_etag(settings, *parts, suffix=stamp), **ISSUE_CACHING}
    )
    return response


def _published_number(state: Published, number: str) -> Issue | None:
    """The published issue `number` names, if it is a number at all."""
    if not _valid_number(number):
        return None
    return state.issue(int(number))


def _kept_page_tag(request: Request, settings: Settings, parts: tuple[object, ...]) -> str | None:
    """The presented tag, if the copy it names is still right: the same issue, catalog and
    build, and a form stamp that is still good for STAMP_LEFT (else a fresh page, fresh stamp).
    Only the first tag that names this page is looked up: a list of them costs one read."""
    for tag in conditional.presented_tags(request):
        _, dot, stamp = tag.strip('"').partition(".")
        if not dot or tag != conditional.make_etag(settings, *parts, suffix=stamp):
            continue
        with session_scope(get_engine(request), read_only=True) as session:
            good = defences.stamp_unspent(session, settings, stamp, now=now(), left=STAMP_LEFT)
        return tag if good else None
    return None


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


@router.api_route("/feed.xml", methods=["GET", "HEAD"])
def archive_feed(request: Request) -> Response:
    """Atom, with each issue's full content (the cards, as its web page shows them). Its tag
    changes when an issue is published or the catalog changes; the body is built once per tag."""
    settings = get_settings_dep(request)
    state = published(request)
    issues_shown = list(state.issues[:FEED_ENTRIES])
    if not issues_shown:  # nothing to validate: `updated` is now
        body = render_feed(settings, [], now=utcnow(), contents={})
        return Response(body, media_type=ATOM, headers=FEED_CACHING)
    version = state.version
    tag = conditional.make_etag(
        settings, version.tag, *((i.id, i.number, i.frozen_at) for i in issues_shown)
    )
    changes = [i.frozen_at for i in issues_shown if i.frozen_at] + [version.changed_at]
    modified = max((moment for moment in changes if moment), default=utcnow())
    headers = {"ETag": tag, "Last-Modified": conditional.http_date(modified), **FEED_CACHING}
    presented = conditional.presented_tags(request)
    if tag in presented or "*" in presented or conditional.not_modified_since(request, modified):
        return conditional.not_modified(headers)
    body = _FEEDS.get(tag) or _build_feed(get_engine(request), settings, issues_shown, version, tag)
    return Response(body, media_type=ATOM, headers=headers)


def _build_feed(
    engine: Engine,
    settings: Settings,
    published: list[Issue],
    version: catalog.CatalogVersion,
    tag: str,
) -> bytes:
    contents = {
        issue.number: issue_page.issue_content(
            settings, issue, issue_page.cached_cards(engine, settings, issue, version)
        )
        for issue in published
    }
    body = render_feed(settings, published, now=utcnow(), contents=contents)
    if len(_FEEDS) >= MAX_FEEDS:
        _FEEDS.clear()
    _FEEDS[tag] = body
    return body
