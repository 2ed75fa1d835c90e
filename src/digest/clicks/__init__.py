"""Clicks (issue 12): which verdicts readers read, without knowing who read them.

    tags.py      signed link tokens (the redirect's only source of a target), per-delivery tags
    rewrite.py   point a frozen copy's comparison links at /r/{token}; the canary and the pixel
    keys.py      the issue's click key and links; IssueTracking, what the sender needs
    size.py      the bytes tracking adds to a copy, so fitting keeps the sent copy in budget
    agents.py    scanners, headless browsers and image proxies, by user agent and address
    record.py    one hit: its signals, stored without identity; consenting readers' clicks
    classify.py  machines' hits from people's (canary, HEAD, agents, sweeps, early hits)
    figures.py   issue_click_figures: what the editor's desk shows
    window.py    close a window: fold hits into counts, delete hits and key
    consent.py   a reader's consent to per-reader clicks, and its withdrawal
    provider.py  the provider's own opened/clicked events, counted per issue
    pick.py      the "Readers' pick": last issue's most-clicked comparison

Rule: no table holds a reader id next to a click, except `reader_click` for readers who
consented (DIGEST_TRACK_CLICKS=consented).
"""

from digest.clicks.consent import forget_reader_clicks, set_click_consent
from digest.clicks.figures import ClickFigures, LinkFigures, ToolFigures, issue_click_figures
from digest.clicks.keys import IssueTracking, prepare_tracking
from digest.clicks.pick import readers_pick
from digest.clicks.provider import count_provider_event
from digest.clicks.record import PendingHit, Request, record_hit, record_hits
from digest.clicks.tags import TrackedLink, read_link
from digest.clicks.window import close_due_windows

__all__ = [
    "ClickFigures",
    "IssueTracking",
    "LinkFigures",
    "PendingHit",
    "Request",
    "ToolFigures",
    "TrackedLink",
    "close_due_windows",
    "count_provider_event",
    "forget_reader_clicks",
    "issue_click_figures",
    "prepare_tracking",
    "read_link",
    "readers_pick",
    "record_hit",
    "record_hits",
    "set_click_consent",
]
