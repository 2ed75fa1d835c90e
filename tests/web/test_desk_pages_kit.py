"""What the desk pages build on: the audit page (paged, escaped), the issue-action buttons
macro (each state offers the right forms, with the CSRF token), and the flash sentences."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from starlette.requests import Request

from digest import editors
from digest.config import Settings
from digest.db import session_scope
from digest.web.desk_actions import AUDIT_PAGE, FLASH, flash_text
from digest.web.pages import templates
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings
from tests.web.test_editor import PASSWORD, csrf_of, login

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def test_the_audit_page_pages_and_escapes(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        for n in range(AUDIT_PAGE + 5):
            editors.record_audit(
                session,
                "<b>x</b>@example.com",
                "approve",
                f"issue {n}",
                now=NOW + timedelta(seconds=n),
            )
    desk = make_test_settings(tmp_path, settings.database_url, editor_password=PASSWORD)
    with live_server(desk) as base, closing(httpx.Client(base_url=base)) as client:
        login(client)
        first = client.get("/editor/audit")
        older = re.search(r'href="/editor/audit\?before=(\d+)"', first.text)
        assert older is not None
        second = client.get(f"/editor/audit?before={older.group(1)}")
        junk = client.get("/editor/audit?before=x' OR 1=1")
    assert first.status_code == second.status_code == junk.status_code == 200
    assert "<b>x</b>" not in first.text and "&lt;b&gt;x&lt;/b&gt;" in first.text
    assert first.text.count("<tr><td") == AUDIT_PAGE
    assert second.text.count("<tr><td") == 6  # 5 older, plus the login's entry
    assert "issue 0<" in second.text and "before=" not in second.text
    assert csrf_of(first.text)  # the page's logout form carries the token


def render_actions(status: str | None, **kwargs: object) -> str:
    macro = templates.env.get_template("editor_actions.html").module.issue_actions  # type: ignore[attr-defined]
    return str(macro(3, status, "tok", **kwargs))


def test_the_action_buttons_follow_the_issue_state() -> None:
    draft = render_actions("draft", content_hash="h" * 64, back="/editor")
    approved = render_actions("draft", content_hash="h" * 64, approved=True)
    empty = render_actions(None)
    sending, paused, sent = (
        render_actions("sending"),
        render_actions("paused"),
        render_actions("sent"),
    )
    actions = lambda html: re.findall(r'action="/editor/issues/3/(\w+)"', html)  # noqa: E731
    assert actions(draft) == ["approve", "send"] and 'name="content" value="hhhh' in draft
    assert actions(approved) == ["hold", "send"]
    assert actions(empty) == [] and actions(sent) == []
    assert actions(sending) == ["pause"] and actions(paused) == ["resume"]
    assert draft.count('name="csrf" value="tok"') == 2 and 'name="back" value="/editor"' in draft


def test_flash_sentences_come_from_the_table_only() -> None:
    def request(query: str) -> Request:
        return Request({"type": "http", "query_string": query.encode(), "headers": []})

    assert flash_text(request("done=approved")) == FLASH["approved"]
    assert flash_text(request("done=<script>")) is None and flash_text(request("")) is None
