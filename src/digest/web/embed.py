"""GET /embed: the signup box the comparison site frames on its own pages.

A small page of its own, with the same defences as the front page (a single-use form stamp and
the honeypot, served with the page, no script): only the site (DIGEST_SITE_URL's origin) may
frame it. The form opens its answer in the top window, on our own pages, so none of our other
pages ever needs to be framed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from digest.config import Settings
from digest.readers import defences
from digest.web.deps import SettingsDep, now
from digest.web.pages import STRICT_CSP, render_page

router = APIRouter(tags=["signup"])


@router.get("/embed", response_class=HTMLResponse)
def embed_box(request: Request, settings: SettingsDep) -> HTMLResponse:
    stamp = defences.make_form_stamp(settings.secret, now=now())
    context = {"form_stamp": stamp, "honeypot": defences.HONEYPOT_FIELD}
    response = render_page(request, "embed.html", context)
    response.headers["Content-Security-Policy"] = framed_by_the_site(settings)
    return response


def framed_by_the_site(settings: Settings) -> str:
    """The strict policy, but framable by the comparison site's origin (and ours) only."""
    parts = urlsplit(settings.site_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return STRICT_CSP.replace("frame-ancestors 'none'", f"frame-ancestors 'self' {origin}")
