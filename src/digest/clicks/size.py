"""How many bytes tracking adds to an issue's HTML, so that fitting keeps the sent copy (not
only the frozen one) under the size budget. An upper bound: the longest ids and tag."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from html import escape

from digest.clicks import rewrite, tags
from digest.config import ClickTracking, Settings, Switch

LONGEST_TAG = "ffffffffffff-" + "x" * 16  # batch id in hex, hash and check
LONGEST_READER = "~" + "x" * 40  # a consenting reader's signed id
FAR = date(9999, 1, 1)


def tracking_overhead(settings: Settings, hrefs: Iterable[str]) -> int:
    """Extra bytes once every one of `hrefs` (one entry per occurrence) is tracked, plus the
    hidden canary link and the pixel; 0 with tracking off."""
    if settings.track_clicks is ClickTracking.OFF:
        return 0
    tag = LONGEST_TAG + (LONGEST_READER if settings.track_clicks is ClickTracking.CONSENTED else "")
    extra = sum(_tracked_length(settings, url, tag) - len(escape(url)) for url in hrefs)
    hidden = rewrite.rewrite_html("", {}, canary=settings.base_url, pixel=_pixel(settings))
    return extra + len(hidden.encode()) + 2 * (_tracked_length(settings, settings.base_url, tag))


def _tracked_length(settings: Settings, url: str, tag: str) -> int:
    token = tags.sign_link(settings.secret, issue_id=10**9, link_id=999, url=url, expires=FAR)
    tracked = rewrite.tracked(f"{settings.base_url}/r/{token}").replace(rewrite.TAG, tag)
    return len(escape(tracked).encode())


def _pixel(settings: Settings) -> str | None:
    return settings.base_url if settings.track_opens is Switch.ON else None
