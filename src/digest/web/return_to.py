"""After the editor logs in, back to the desk page they asked for.

A desk page asked for without a session redirects to `/editor/login?next=<that page>`; the
form carries `next` along and a successful login goes there instead of `/editor`. `next` comes
from the visitor, so it is only ever a path under /editor on this site: an open redirect (a
login link on our domain that ends on an attacker's page) is the classic hole here. The
redirect is built under DIGEST_BASE_URL as well, so even a value that slipped through could
not leave the site.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from fastapi import Request

__all__ = ["LOGIN", "login_path", "safe_next"]

LOGIN = "/editor/login"
DESK = "/editor"
MAX_NEXT = 1000  # characters: a desk page's path and query are far shorter
NEVER_BACK_TO = {LOGIN, "/editor/logout"}
# RFC 3986's unreserved and sub-delims, ":", "@", "%" (escapes), "/" and "?"
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]+")


def safe_next(value: str) -> str | None:
    """`value` when it is a desk page of this site to return to; otherwise None. Only the
    characters a URL's path and query are made of (no spaces, quotes, angle brackets or
    backslashes: browsers read "/\\evil" as "//evil"; no "#"), no scheme or host, a plain path
    under /editor (no "//", no dot segments), not the login or logout page."""
    if len(value) > MAX_NEXT or not URL_CHARACTERS.fullmatch(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    path = parts.path
    if path != DESK and not path.startswith(DESK + "/"):
        return None
    if "//" in path or "/." in path or path.rstrip("/") in NEVER_BACK_TO:
        return None
    return value


def login_path(request: Request) -> str:
    """The login page; for a desk page asked for by GET, with `next` to come back to it (a
    form posted without a session cannot be replayed, so it goes to the plain login)."""
    if request.method not in ("GET", "HEAD"):
        return LOGIN
    # as the browser sent it, escapes and all (the decoded path may hold any character)
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    query = request.url.query
    wanted = safe_next(path + (f"?{query}" if query else ""))
    if wanted is None or wanted == DESK:
        return LOGIN
    return f"{LOGIN}?{urlencode({'next': wanted})}"
