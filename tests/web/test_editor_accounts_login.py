"""Login per editor account over real HTTP, on both engines: the audit names the editor, a
wrong answer does not say whether the address has an account, removing the account ends its
session, and the desk exists with accounts alone (no shared password)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from digest import editors
from digest.config import Settings
from digest.db import session_scope
from tests.support.live_server import live_server
from tests.web.test_editor import login, path_of

GOOD = "a long enough password"
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def add(engine: Engine, email: str, *, owner: bool = False) -> None:
    with session_scope(engine) as session:
        editors.add_account(session, email, GOOD, owner=owner, actor="cli:test", now=NOW)


def test_an_account_logs_in_and_is_audited(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    add(engine, "ed@example.com", owner=True)
    with live_server(settings) as base, httpx.Client(base_url=base) as client:
        wrong = login(client, "not the password", email="ed@example.com")
        unknown = login(client, GOOD, email="nobody@example.com")
        shared = login(client, GOOD)  # no shared password is set: an address is needed
        ok = login(client, GOOD, email="ED@example.com")
        page = client.get("/editor/preview")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text.replace("ed@example.com", "X") == unknown.text.replace(
        "nobody@example.com", "X"
    ).replace(_csrf(unknown.text), _csrf(wrong.text))
    assert shared.status_code == 401
    assert ok.status_code == 303 and path_of(ok) == "/editor"
    assert page.status_code == 200
    with session_scope(engine, read_only=True) as session:
        log = [(e.actor, e.action) for e in editors.recent_audit(session)]
    assert ("ed@example.com", "login") in log and ("ed@example.com", "login-failed") in log
    assert not any("nobody" in actor for actor, _ in log)


def test_removing_the_account_ends_its_session(engine: Engine, settings: Settings) -> None:
    add(engine, "owner@example.com", owner=True)
    add(engine, "ed@example.com")
    with live_server(settings) as base, httpx.Client(base_url=base) as client:
        assert login(client, GOOD, email="ed@example.com").status_code == 303
        assert client.get("/editor/preview").status_code == 200
        with session_scope(engine) as session:
            editors.remove_account(session, "ed@example.com", actor="cli:test", now=NOW)
        after = client.get("/editor/preview")
    assert after.status_code == 303 and path_of(after) == "/editor/login?next=%2Feditor%2Fpreview"


def test_without_accounts_or_password_the_desk_is_404(engine: Engine, settings: Settings) -> None:
    with live_server(settings) as base:
        assert httpx.get(f"{base}/editor/login").status_code == 404


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="')[1].split('"')[0]
