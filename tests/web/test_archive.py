"""The public archive over real HTTP: list, web version of a sent issue, Atom feed."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from digest import issues, links
from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue
from tests.support.issue_data import comparison_doc, hostile_doc, import_docs, week_of
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def send_issue(engine: Engine, settings: Settings, now: datetime) -> Issue:
    with session_scope(engine) as session:
        issue = issues.claim_issue(session, settings, now=now)
        return issues.freeze_issue(session, settings, issue, now=now)


@pytest.fixture
def two_issues(engine: Engine, settings: Settings) -> tuple[Issue, Issue]:
    import_docs(engine, [*week_of(NOW, 2), hostile_doc(NOW - timedelta(minutes=3))], now=NOW)
    first = send_issue(engine, settings, NOW)
    later = NOW + timedelta(days=7)
    import_docs(engine, [comparison_doc(30, later - timedelta(hours=1))], now=later)
    second = send_issue(engine, settings, later)
    # a third week's draft exists but has not gone out
    with session_scope(engine) as session:
        issues.claim_issue(session, settings, now=later + timedelta(days=7))
    return first, second


def test_archive_lists_sent_issues(
    engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue]
) -> None:
    with live_server(settings) as base:
        page = httpx.get(f"{base}/issues")
    assert page.status_code == 200
    assert page.text.index("Issue #2") < page.text.index("Issue #1")
    assert "Issue #3" not in page.text
    assert f'href="{settings.base_url}/issues/1"' in page.text
    assert "&lt;script&gt;" in page.text and "<script>" not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_an_issue_is_a_page_of_the_site_not_the_email(
    engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue]
) -> None:
    first, _ = two_issues
    with live_server(settings) as base:
        page = httpx.get(f"{base}/issues/1")
        image = httpx.get(f"{base}/issues/1/share.png")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "You get this because" not in html and "/unsubscribe" not in html
    assert 'action="/subscribe"' in html and 'name="form_stamp"' in html  # a subscribe box
    assert '<nav aria-label="Site">' in html and f'href="{settings.base_url}/issues"' in html
    for n in range(2):
        assert f'href="https://site.test/compare/tool-a-{n}-vs-tool-b-{n}"' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    url = links.issue_url(settings, 1)
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:image" content="{url}/share.png">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert f'href="{settings.base_url}/feed.xml"' in html and 'rel="alternate"' in html
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    assert ld is not None and "<" not in ld.group(1)  # nothing in it can close the element
    data = json.loads(ld.group(1))
    assert (data["@type"], data["url"], data["headline"]) == ("Article", url, first.subject)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert len(image.content) < 300_000
    assert Image.open(io.BytesIO(image.content)).size == (1200, 630)


def test_sitemap_robots_favicon_and_html_404s(
    engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue]
) -> None:
    with live_server(settings) as base:
        sitemap = httpx.get(f"{base}/sitemap.xml")
        robots = httpx.get(f"{base}/robots.txt")
        icons = [httpx.get(f"{base}/favicon.{kind}") for kind in ("ico", "svg")]
        missing = httpx.get(f"{base}/no/such/page")
        api_missing = httpx.get(f"{base}/api/nothing")
        no_image = httpx.get(f"{base}/issues/3/share.png")
    located = re.findall(r"<loc>(.*?)</loc>", sitemap.text)
    base_url = settings.base_url
    assert located == [
        f"{base_url}/",
        f"{base_url}/issues",
        f"{base_url}/issues/2",
        f"{base_url}/issues/1",
    ]
    assert (
        "Disallow: /preferences" in robots.text
        and f"Sitemap: {base_url}/sitemap.xml" in robots.text
    )
    assert [icon.status_code for icon in icons] == [200, 200]
    assert (
        icons[0].headers["content-type"] == "image/x-icon" and icons[0].content[:4] == b"\0\0\1\0"
    )
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text and 'action="/subscribe"' not in missing.text
    assert api_missing.status_code == 404
    assert api_missing.json() == {"error": "There is no page at this address."}
    assert no_image.status_code == 404


@pytest.mark.parametrize(
    "number",
    ["3", "4", "0", "-1", "abc", "1.5", "99999999999999999999", "%C2%B2", "1%20", "7" * 4301],
)
def test_unknown_or_unsent_issue_is_a_clean_404(
    engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue], number: str
) -> None:
    with live_server(settings) as base:
        page = httpx.get(f"{base}/issues/{number}")
    assert page.status_code == 404
    assert "Issue not found" in page.text and "Traceback" not in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_feed_is_valid_atom(
    engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue]
) -> None:
    first, _second = two_issues
    with live_server(settings) as base:
        response = httpx.get(f"{base}/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == settings.newsletter_name
    assert [entry.link for entry in feed.entries] == [
        links.issue_url(settings, 2),
        links.issue_url(settings, 1),
    ]
    assert feed.entries[1].title == f"#1: {first.subject}"
    assert feed.entries[1].summary == first.preheader  # hostile text survives, escaped
    content = feed.entries[1].content[0]
    assert content.type == "text/html" and "tool-a-0-vs-tool-b-0" in content.value
    assert "&lt;script&gt;alert(1)" in content.value and "<script>" not in content.value
    assert feed.entries[0].updated_parsed[:5] == (2026, 11, 30, 8, 0)


def test_empty_archive_and_feed(engine: Engine, settings: Settings) -> None:
    with live_server(settings) as base:
        page = httpx.get(f"{base}/issues")
        feed = feedparser.parse(httpx.get(f"{base}/feed.xml").content)
    assert page.status_code == 200 and "No issue has gone out yet" in page.text
    assert not feed.bozo and feed.entries == []


def test_feed_ids_stay_when_the_domain_moves(
    tmp_path: Path, engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue]
) -> None:
    moved = make_test_settings(tmp_path, settings.database_url, base_url="https://news.example")
    feeds = []
    for current in (settings, moved):
        with live_server(current) as base:
            feeds.append(feedparser.parse(httpx.get(f"{base}/feed.xml").content))
    before, after = feeds
    assert [e.link for e in before.entries] != [e.link for e in after.entries]  # links move
    assert [e.id for e in before.entries] == [e.id for e in after.entries]  # ids do not
    assert before.feed.id == after.feed.id
    ids = [e.id for e in before.entries] + [before.feed.id]
    assert len(set(ids)) == 3 and all(i.startswith("urn:uuid:") for i in ids)


def test_an_empty_feed_is_not_from_1970(engine: Engine, settings: Settings) -> None:
    with live_server(settings) as base:
        feed = feedparser.parse(httpx.get(f"{base}/feed.xml").content)
    assert not feed.bozo and feed.feed.updated_parsed.tm_year >= 2026


def test_archive_times_are_valid_html_datetimes(engine: Engine, settings: Settings) -> None:
    """A real clock has microseconds; HTML's <time datetime> takes at most milliseconds."""
    moment = NOW + timedelta(microseconds=123456)
    import_docs(engine, week_of(NOW, 1), now=NOW)
    send_issue(engine, settings, moment)
    with live_server(settings) as base:
        page = httpx.get(f"{base}/issues").text
    (stamp,) = re.findall(r'<time datetime="([^"]*)"', page)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)", stamp)
