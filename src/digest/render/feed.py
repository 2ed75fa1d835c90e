"""The archive's Atom feed (RFC 4287): one entry per published issue, newest first, each with
its full content (the web page's HTML, given by the caller) when there is one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from digest import links
from digest.config import Settings
from digest.models import Issue

ATOM = "http://www.w3.org/2005/Atom"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def render_feed(
    settings: Settings, issues: Sequence[Issue], *, contents: Mapping[int, str] | None = None
) -> bytes:
    """A valid Atom document; text goes through ElementTree, so it is always escaped."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "title", settings.newsletter_name)
    _add(feed, "subtitle", "Every week's AI tool comparisons, with the panel's verdicts.")
    _add(feed, "id", f"{settings.base_url}/issues")
    _link(feed, f"{settings.base_url}/feed.xml", rel="self", type="application/atom+xml")
    _link(feed, f"{settings.base_url}/issues", rel="alternate", type="text/html")
    newest = max((issue.frozen_at or EPOCH for issue in issues), default=EPOCH)
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
    _add(entry, "id", url)
    _link(entry, url, rel="alternate", type="text/html")
    stamp = _stamp(issue.frozen_at or EPOCH)
    _add(entry, "published", stamp)
    _add(entry, "updated", stamp)
    _add(entry, "summary", issue.preheader or issue.subject or "")
    if content is not None:
        _add(entry, "content", content).set("type", "html")  # escaped HTML, as RFC 4287 says


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
