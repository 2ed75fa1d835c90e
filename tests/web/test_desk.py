"""The desk's read side over real HTTP: overview, issue page, CSV, on both engines."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue, IssueStatus
from tests.support.desk_data import History
from tests.support.issue_data import comparison_doc, import_docs, week_of
from tests.support.live_server import live_server
from tests.web.test_editor import login


def test_login_leads_to_the_overview(desk_settings: Settings) -> None:
    with live_server(desk_settings) as base, httpx.Client(base_url=base) as client:
        assert client.get("/editor").headers["location"].endswith("/editor/login")
        assert login(client).headers["location"] == f"{desk_settings.base_url}/editor"


def test_overview_shows_next_issue_list_growth_and_issues(
    engine: Engine, history: History, client: httpx.Client
) -> None:
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 2), now=now)
    page = client.get("/editor")
    assert page.status_code == 200
    text = page.text
    assert 'id="next-title">Next issue: #3<' in text
    assert 'id="goes-out"' in text and "UTC" in text  # the schedule's next run, in its zone
    assert 'id="audience"><span class="number">8</span> confirmed' in text
    assert 'id="checks"' in text and 'action="/editor/issues/3/approve"' in text
    assert 'name="csrf"' in text
    assert text.count("<svg") == 2 and 'role="img"' in text
    assert 'id="growth-table"' in text and 'id="issues-table"' in text
    assert '<a href="/editor/issues/1">#1</a>' in text
    assert "12.50% (over 0.30%)" in text  # issue 1: 1 complaint in 8 copies
    assert "<script>alert" not in text


def test_issue_page_shows_the_ledger(history: History, client: httpx.Client) -> None:
    page = client.get("/editor/issues/1")
    assert page.status_code == 200
    text = page.text
    assert 'id="progress-text">10 of 10<' in text
    assert "mailbox unavailable" in text and "7 delivered, 1 bounced, 1 complained" in text
    assert f'href="/editor/readers/{history.reader_ids[7]}"' in text  # who bounced
    assert '<a href="/issues/1">the archived copy</a>' in text
    assert "desk.js" not in text  # sent: nothing to watch
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize("number", ["99", "0", "abc", "1e3", "9" * 40, "-1", "%00"])
def test_unknown_issues_are_404(history: History, client: httpx.Client, number: str) -> None:
    assert client.get(f"/editor/issues/{number}").status_code == 404


def test_tables_download_as_defused_csv(history: History, client: httpx.Client) -> None:
    issues = client.get("/editor/issues.csv")
    assert issues.status_code == 200 and issues.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(issues.text)))
    assert [r["number"] for r in rows] == ["2", "1"]
    assert rows[1]["sent"] == "8" and rows[1]["complaint_rate"] == "0.125"
    growth = list(csv.DictReader(io.StringIO(client.get("/editor/growth.csv").text)))
    assert len(growth) == 12 and set(growth[0]) == {
        "week",
        "confirmed",
        "unsubscribed",
        "bounced",
        "complained",
    }


def test_desk_pages_need_login(history: History, desk_settings: Settings) -> None:
    with live_server(desk_settings) as base:
        for path in ("/editor", "/editor/issues/1", "/editor/issues.csv", "/editor/growth.csv"):
            assert httpx.get(f"{base}{path}").status_code == 303


def test_a_running_send_is_watched_by_our_script(
    engine: Engine, history: History, client: httpx.Client
) -> None:
    with session_scope(engine) as session:
        issue = session.get(Issue, history.issue_ids[1])
        assert issue is not None
        issue.status = IssueStatus.SENDING
    page = client.get("/editor/issues/2")
    assert '<script src="/editor/desk.js" defer></script>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline code
    progress = client.get("/editor/issues/2/progress").json()
    assert progress == {
        "status": "sending",
        "total": 7,
        "answered": 7,
        "deliveries": {"queued": 0, "sent": 6, "failed": 1, "skipped": 0},
        "watch": True,
    }
    script = client.get("/editor/desk.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "fetch(url" in script.text
    assert client.get("/editor/issues/99/progress").status_code == 404
    with httpx.Client(base_url=str(client.base_url)) as stranger:
        assert stranger.get("/editor/desk.js").status_code == 303
        assert stranger.get("/editor/issues/2/progress").status_code == 303


def test_approving_an_out_of_date_overview_is_refused(
    engine: Engine, history: History, client: httpx.Client
) -> None:
    now = datetime.now(UTC)
    import_docs(engine, week_of(now - timedelta(hours=3), 2), now=now)
    page = client.get("/editor").text
    content = re.search(r'name="content" value="([0-9a-f]{64})"', page)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert content and token, "the Approve form carries what the editor saw"
    import_docs(engine, [comparison_doc(40, now - timedelta(minutes=5))], now=now)
    form = {"csrf": token.group(1), "back": "/editor", "content": content.group(1)}
    stale = client.post("/editor/issues/3/approve", data=form)
    assert stale.status_code == 409
    assert "Not approved" in client.get("/editor").text
