"""Conditional GETs on the archive: a sent issue's page and the feed answer 304 while the copy
the client holds is still right, and only then."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue
from tests.support.issue_data import comparison_doc, import_docs, week_of
from tests.support.live_server import live_server
from tests.support.readers import wait_for_requests
from tests.support.settings import make_test_settings

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
STAMP = re.compile(r'name="form_stamp" value="([^"]+)"')


@pytest.fixture
def fast_settings(tmp_path: Path, database_url: str) -> Settings:
    """A subscribe form may be sent at once (the test presses it right after loading)."""
    return make_test_settings(tmp_path, database_url, subscribe_min_seconds=0)


def changed(client: httpx.Client, path: str, tag: str) -> httpx.Response:
    """The first answer other than 304 to If-None-Match: `tag`: the pages read the store at
    most once a second (web/published.py), so a change shows up within about that."""
    deadline = time.monotonic() + 30
    while True:
        answer = client.get(path, headers={"If-None-Match": tag})
        if answer.status_code != 304 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def send_issue(engine: Engine, settings: Settings, now: datetime) -> Issue:
    with session_scope(engine) as session:
        issue = issues.claim_issue(session, settings, now=now)
        return issues.freeze_issue(session, settings, issue, now=now)


def test_the_feed_answers_304_until_an_issue_is_published_or_the_catalog_changes(
    engine: Engine, settings: Settings
) -> None:
    import_docs(engine, week_of(NOW, 2), now=NOW)
    send_issue(engine, settings, NOW)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        first = client.get("/feed.xml")
        tag = first.headers["etag"]
        again = client.get("/feed.xml", headers={"If-None-Match": tag})
        weak = client.get("/feed.xml", headers={"If-None-Match": f'"other", W/{tag}'})
        since = client.get(
            "/feed.xml", headers={"If-Modified-Since": first.headers["last-modified"]}
        )
        head = client.head("/feed.xml")
        later = NOW + timedelta(days=7)
        import_docs(engine, [comparison_doc(30, later - timedelta(hours=1))], now=later)
        send_issue(engine, settings, later)
        published = changed(client, "/feed.xml", tag)
        edited = comparison_doc(0, NOW - timedelta(days=1))
        edited["title"] = "Renamed after sending"
        import_docs(engine, [edited], now=later + timedelta(hours=1))
        renamed = changed(client, "/feed.xml", published.headers["etag"])
    assert first.status_code == 200 and tag.startswith('"') and not tag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=300"
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    assert weak.status_code == 304 and since.status_code == 304
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", tag)
    assert published.status_code == 200 and published.headers["etag"] != tag
    assert "#2:" in published.text
    assert renamed.status_code == 200 and "Renamed after sending" in renamed.text


def test_an_issue_page_answers_304_only_while_the_stamp_it_carries_is_good(
    engine: Engine, fast_settings: Settings
) -> None:
    """The page holds a single-use form stamp: a kept copy is good until that stamp is spent."""
    import_docs(engine, week_of(NOW, 2), now=NOW)
    send_issue(engine, fast_settings, NOW)
    with live_server(fast_settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/issues/1")
        tag = page.headers["etag"]
        kept = client.get("/issues/1", headers={"If-None-Match": tag})
        head = client.head("/issues/1")
        stamp = STAMP.search(page.text)
        assert stamp is not None
        form = {"email": "reader@example.com", "name": "", "website": "", "form_stamp": stamp[1]}
        assert "Check your inbox" in client.post("/subscribe", data=form).text
        wait_for_requests(engine)  # the stamp is spent when the signup is acted on
        spent = client.get("/issues/1", headers={"If-None-Match": tag})
        # A signature character that always counts (base64's last one carries unused bits).
        mark = "A" if stamp[1][-3] != "A" else "B"
        forged = tag.replace(stamp[1], stamp[1][:-3] + mark + stamp[1][-2:])
        refused = client.get("/issues/1", headers={"If-None-Match": forged})
    assert page.status_code == 200 and stamp[1] in tag
    assert page.headers["cache-control"] == "private, no-cache"
    assert (kept.status_code, kept.content, kept.headers["etag"]) == (304, b"", tag)
    assert head.status_code == 200 and head.content == b"" and "etag" in head.headers
    assert spent.status_code == 200 and spent.headers["etag"] != tag
    fresh = STAMP.search(spent.text)
    assert fresh is not None and fresh[1] != stamp[1] and fresh[1] in spent.headers["etag"]
    assert refused.status_code == 200


def test_an_issue_page_follows_a_catalog_change(engine: Engine, settings: Settings) -> None:
    """Which comparisons a sent issue carries is frozen; what they say follows the catalog."""
    import_docs(engine, week_of(NOW, 2), now=NOW)
    send_issue(engine, settings, NOW)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/issues/1")
        edited = comparison_doc(1, NOW - timedelta(days=1))
        edited["title"] = "A title fixed after sending"
        import_docs(engine, [edited], now=NOW + timedelta(hours=1))
        again = changed(client, "/issues/1", page.headers["etag"])
        front = client.get("/")
    assert "A title fixed after sending" not in page.text
    assert again.status_code == 200 and "A title fixed after sending" in again.text
    assert "A title fixed after sending" in front.text
