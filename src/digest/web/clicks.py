"""GET|HEAD /r/{token}: a tracked link. The target comes only from the signed token; a forged,
altered or expired token gets the 404 page and no redirect, so this is never an open redirect.

The hit is queued on the way and written a moment later (hit_writer.py; no identity, signals
only): the reader never waits on the store, and is redirected even if it is away. The open
pixel (DIGEST_TRACK_OPENS=on) is a token too: it answers a 1x1 GIF instead of a redirect.
"""

from __future__ import annotations

import base64
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from digest import clicks
from digest.clicks.keys import PIXEL
from digest.config import ClickTracking
from digest.errors import TokenError
from digest.web.client import client_ip
from digest.web.deps import SettingsDep
from digest.web.pages import render_page

router = APIRouter(tags=["clicks"])
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the site never sees the token or the tag
    "X-Robots-Tag": "noindex, nofollow",
}


@router.api_route("/r/{token}", methods=["GET", "HEAD"])
async def follow_link(request: Request, token: str, settings: SettingsDep) -> Response:
    # async: checking a token is a few microseconds of CPU and the hit is only queued, so
    # the request never takes a trip through the thread pool.
    moment: datetime = request.app.state.clock()
    try:
        link = clicks.read_link(settings.secret, token, now=moment)
    except TokenError:
        message = "This link is not valid."
        page = render_page(request, "not_found.html", {"message": message}, status_code=404)
        page.headers.update(PRIVATE)
        return page
    if settings.track_clicks is not ClickTracking.OFF:
        _record(request, link, moment)
    if link.link_id == PIXEL:
        return Response(GIF, media_type="image/gif", headers=PRIVATE)
    return RedirectResponse(link.url, status_code=302, headers=PRIVATE)


def _record(request: Request, link: clicks.TrackedLink, moment: datetime) -> None:
    hit = clicks.Request(
        method=request.method,
        ip=client_ip(request) or "",
        user_agent=request.headers.get("user-agent", "")[:500],
        tag=request.query_params.get("t"),
    )
    request.app.state.hits.add(clicks.PendingHit(link, hit, moment))
