"""The archive's Atom feed (RFC 4287): one entry per published issue, newest first, each with
its full content (the web page's HTML, given by the caller) when there is one.

Ids are permanent (RFC 4287 4.2.6): an entry's is a urn:uuid derived from the issue's number
and the instant its row was created, the feed's from the newsletter's name, so moving the
service to another domain (DIGEST_BASE_URL) does not make every issue look new to readers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from digest import links
from digest.config import Settings
from digest.models import Issue

ATOM = "http://www.w3.org/2005/Atom"
# Fixed for good: changing it would change every id this service ever published.
ID_NAMESPACE = uuid.UUID("6c0f6f57-2f8e-4c52-9a3e-9d4f0b1f2a61")


def render_feed(
    settings: Settings,
    issues: Sequence[Issue],
    *,
    now: datetime,
    contents: Mapping[int, str] | None = None,
) -> bytes:
    """A valid Atom document; text goes through ElementTree, so it is always escaped. An empty
    feed is `updated` `now` (Atom requires the element; 1970 would be a lie). `contents`: each
    issue's full HTML by number."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "title", settings.newsletter_name)
    _add(feed, "subtitle", "Every week's AI tool comparisons, with the panel's verdicts.")
    _add(feed, "id", feed_id(settings.newsletter_name))
    _link(feed, f"{settings.base_url}/feed.xml", rel="self", type="application/atom+xml")
    _link(feed, f"{settings.base_url}/issues", rel="alternate", type="text/html")
    newest = max((_published(issue) for issue in issues), default=now)
    _add(feed, "updated", _stamp(newest))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _add(author, "name", settings.newsletter_name)
    for issue in issues:
        _entry(feed, settings, issue, (contents or {}).get(issue.number))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(feed: ET.Element, settings: Settings, issue: Issue, content: str | None) -> None:
    url = links.issue_url(settings, issue.number)
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    _add(entry, "title", f"#{issue.number}: {issue.subject or ''}")
    _add(entry, "id", entry_id(issue))
    _link(entry, url, rel="alternate", type="text/html")
    stamp = _stamp(_published(issue))
    _add(entry, "published", stamp)
    _add(entry, "updated", stamp)
    _add(entry, "summary", issue.preheader or issue.subject or "")
    if content is not None:
        _add(entry, "content", content).set("type", "html")  # escaped HTML, as RFC 4287 says


def entry_id(issue: Issue) -> str:
    """The issue's permanent Atom id: nothing in it depends on settings."""
    created = issue.created_at.astimezone(UTC).isoformat()
    return uuid.uuid5(ID_NAMESPACE, f"issue:{issue.number}:{created}").urn


def feed_id(newsletter_name: str) -> str:
    return uuid.uuid5(ID_NAMESPACE, f"feed:{newsletter_name}").urn


def _published(issue: Issue) -> datetime:
    return issue.frozen_at or issue.created_at


def _add(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _xml_safe(text)
    return element


def _link(parent: ET.Element, href: str, **attributes: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", {"href": href, **attributes})


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: drop them."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
