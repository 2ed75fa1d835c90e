"""DIGEST_READERS_PICK=on: the next issue names last issue's most-clicked comparison (by
people: a scanner's sweep does not make a pick)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from digest import delivery, issues
from digest.db import session_scope
from tests.support.clicks import BROWSER, SENT_AT, Moment, hit, local, send_week
from tests.support.issue_data import comparison_doc, import_docs
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

NEXT_WEEK = SENT_AT + timedelta(days=7)


def test_next_issue_names_last_weeks_most_clicked_comparison(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_test_settings(tmp_path, database_url, readers_pick="on")
    _, copies = send_week(engine, settings, readers=3)
    clock = Moment(SENT_AT)
    later = SENT_AT + timedelta(hours=3)
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        for n, copy in enumerate(copies):
            links = [local(u, settings, base) for u in copy.tracked(settings.base_url)]
            # people click comparison 1 (links 3 and 4) twice; comparison 0 once
            hit(client, links[3], clock=clock, at=later, agent=f"{BROWSER} {n}")
            if n == 0:
                hit(client, links[1], clock=clock, at=later, agent=f"{BROWSER} {n}")
            # a scanner sweeps comparison 2 on every copy
            for index in (5, 6, 0):
                hit(
                    client,
                    links[index],
                    clock=clock,
                    at=SENT_AT + timedelta(seconds=40),
                    agent="HeadlessChrome",
                )
    import_docs(engine, [comparison_doc(40, NEXT_WEEK - timedelta(hours=1))], now=NEXT_WEEK)
    with session_scope(engine) as session:
        preview = issues.preview_next_issue(session, settings, now=NEXT_WEEK)
        issue = delivery.open_period_issue(session, settings, now=NEXT_WEEK)
        html, text = issue.html or "", issue.text or ""
    title = "Claude Files API Enterprise Edition 1 vs Modal GPU Serverless Inference Platform 1"
    assert "Readers' pick" in html and title in html
    assert f"Readers' pick last week: {title}"[:60] in text
    assert "tool-a-1-vs-tool-b-1" in html and "tool-a-2-vs-tool-b-2" not in html
    assert preview.email.html == html  # the preview shows what is frozen


def test_off_by_default(engine: Engine, tmp_path: Path, database_url: str) -> None:
    settings = make_test_settings(tmp_path, database_url)
    send_week(engine, settings, readers=1)
    import_docs(engine, [comparison_doc(40, NEXT_WEEK - timedelta(hours=1))], now=NEXT_WEEK)
    with session_scope(engine) as session:
        issue = delivery.open_period_issue(session, settings, now=NEXT_WEEK)
        assert "Readers' pick" not in (issue.html or "")
