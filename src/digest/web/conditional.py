"""Conditional GETs for the published pages: ETags, If-None-Match and If-Modified-Since -> 304.

A tag names everything that makes a page: the build (the code's version, the web templates and
the settings, fingerprinted once per process), what the page shows from the store (an issue, the
catalog's version) and, for pages with a subscribe form, the form stamp the body carries. Tags
are strong (no compression here changes the bytes) and the same in every worker process.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache

from fastapi import Request
from fastapi.responses import Response

from digest import __version__
from digest.config import Settings
from digest.paths import WEB_TEMPLATES


@lru_cache(maxsize=8)
def build_fingerprint(settings: Settings) -> str:
    """The code, its page templates and the settings; keyed with the secret so that the tag
    says nothing about a setting's value (an SMTP URL may carry a password)."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(WEB_TEMPLATES.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(settings.model_dump_json().encode())
    keyed = hmac.new(settings.secret.encode(), digest.digest(), hashlib.sha256)
    return keyed.hexdigest()[:16]


def make_etag(settings: Settings, *parts: object, suffix: str = "") -> str:
    """A strong tag for a page made of `parts`; `suffix` (a form stamp) is carried as is."""
    digest = hashlib.sha256(build_fingerprint(settings).encode())
    for part in parts:
        digest.update(b"\0" + str(part).encode())
    tail = f".{suffix}" if suffix else ""
    return f'"{digest.hexdigest()[:24]}{tail}"'


def presented_tags(request: Request) -> list[str]:
    """The tags in If-None-Match (weak ones compared as strong: RFC 9110 13.1.2), or ["*"]."""
    header = request.headers.get("if-none-match", "")
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return [tag for tag in tags if tag]


def not_modified_since(request: Request, modified: datetime | None) -> bool:
    """If-Modified-Since, which counts only without If-None-Match."""
    raw = request.headers.get("if-modified-since")
    if modified is None or not raw or "if-none-match" in request.headers:
        return False
    try:
        since = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and modified.replace(microsecond=0) <= since


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def not_modified(headers: dict[str, str]) -> Response:
    """304: no body, the same validators and caching headers as the 200 would carry."""
    return Response(status_code=304, headers=headers)
