"""Answers for addresses no route serves: a page of the site (or JSON under /api and /webhooks,
and for clients that accept only JSON) instead of the framework's default, and the
trailing-slash redirect built from DIGEST_BASE_URL.

No request header ever reaches a redirect or a link: the framework's own slash redirect wrote
the Host header into Location (`GET /issues/` -> `http://<Host>/issues`), so it is switched
off (`redirect_slashes=False`) and done here instead.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from digest.web.pages import render_page

MESSAGES = {
    404: "There is no page at this address.",
    405: "This address does not take that method.",
}


def redirect_to(request: Request, path: str, *, status_code: int = 303) -> RedirectResponse:
    """A redirect to `path` under DIGEST_BASE_URL (never the Host the request named)."""
    return RedirectResponse(f"{request.app.state.settings.base_url}{path}", status_code=status_code)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 404 and request.method in ("GET", "HEAD") and _slash(path):
        query = request.url.query
        return redirect_to(
            request, path.rstrip("/") + (f"?{query}" if query else ""), status_code=308
        )
    message = MESSAGES.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    if path.startswith(("/api/", "/webhooks/")) or _json_only(request):
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=headers)
    if exc.status_code == 404:  # a page of the site: where to subscribe, the past issues
        page = render_page(request, "not_found.html", {"message": message}, status_code=404)
    else:
        context = {"title": "Not allowed", "lines": [message]}
        page = render_page(request, "notice.html", context, status_code=exc.status_code)
    page.headers.update(headers)
    return page


def _json_only(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _slash(path: str) -> bool:
    return len(path) > 1 and path.endswith("/") and not path.endswith("//")
