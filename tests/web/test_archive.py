"""The public archive over real HTTP: list, web version of a sent issue, Atom feed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
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


def test_web_version_is_the_sent_issue_without_personal_links(
    engine: Engine, settings: Settings, two_issues: tuple[Issue, Issue]
) -> None:
    first, _ = two_issues
    with live_server(settings) as base:
        page = httpx.get(f"{base}/issues/1")
    assert page.status_code == 200
    assert first.html is not None
    expected = first.html.replace(
        "[[digest:unsubscribe_url]]", links.anonymous_values(settings)["unsubscribe_url"]
    ).replace("[[digest:preferences_url]]", links.anonymous_values(settings)["preferences_url"])
    assert page.text == expected
    assert "[[digest:" not in page.text and "/unsubscribe/" not in page.text
    assert f'href="{links.issue_url(settings, 1)}"' in page.text  # "view in browser" is here


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
