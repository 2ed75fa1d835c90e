"""Server-rendered pages: one Jinja2 environment for templates/web, and headers for every page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from digest.paths import WEB_TEMPLATES

templates = Jinja2Templates(directory=str(WEB_TEMPLATES))
templates.env.auto_reload = False  # no stat() of every template per page: a deploy restarts

# Pages carry no scripts of ours and load nothing from elsewhere; styles are inline in <style>.
# connect-src 'self': crawlers' tools (Lighthouse) fetch /robots.txt from the page's context;
# with no script allowed to run, it opens nothing to anyone else.
STRICT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": STRICT_CSP,
    "Referrer-Policy": "no-referrer",  # pages with tokens in the URL must not leak them
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def render_page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render templates/web/`name` with the settings available as `settings`."""
    values = {"settings": request.app.state.settings, **(context or {})}
    response = templates.TemplateResponse(request, name, values, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response
