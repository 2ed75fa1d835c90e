"""/editor/accounts over real HTTP, on both engines: owners add (typed or generated
password), promote and remove; a non-owner gets 403 and nothing changes; the last owner
stays; CSRF on every form; hostile addresses are refused and shown escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest import editors
from digest.config import Settings
from digest.db import session_scope
from tests.support.live_server import live_server
from tests.web.test_editor import csrf_of, login, path_of

GOOD = "a long enough password"
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def add(engine: Engine, email: str, *, owner: bool = False) -> None:
    with session_scope(engine) as session:
        editors.add_account(session, email, GOOD, owner=owner, actor="cli:test", now=NOW)


def emails(engine: Engine) -> list[tuple[str, bool]]:
    with session_scope(engine, read_only=True) as session:
        return [(a.email, a.owner) for a in editors.list_accounts(session)]


@pytest.fixture
def base(engine: Engine, settings: Settings) -> Iterator[str]:
    add(engine, "owner@example.com", owner=True)
    add(engine, "ed@example.com")
    with live_server(settings) as url:
        yield url


def as_editor(base: str, email: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base)
    assert login(client, GOOD, email=email).status_code == 303
    return client, csrf_of(client.get("/editor/audit").text)


def test_an_owner_adds_promotes_and_removes(base: str, engine: Engine) -> None:
    client, token = as_editor(base, "owner@example.com")
    with closing(client):
        page = client.get("/editor/accounts")
        typed = client.post(
            "/editor/accounts/add",
            data={"csrf": token, "email": "New@Example.com", "password": GOOD, "owner": "1"},
        )
        generated = client.post(
            "/editor/accounts/add", data={"csrf": token, "email": "gen@example.com"}
        )
        promoted = client.post(
            "/editor/accounts/owner", data={"csrf": token, "email": "ed@example.com", "owner": "1"}
        )
        removed = client.post(
            "/editor/accounts/remove", data={"csrf": token, "email": "new@example.com"}
        )
    assert page.status_code == 200 and "ed@example.com" in page.text
    assert typed.status_code == 200 and "Added new@example.com" in typed.text
    assert GOOD not in typed.text  # a typed password is never echoed
    password = re.search(r'<code class="password">([^<]+)</code>', generated.text)
    assert password is not None
    assert promoted.status_code == removed.status_code == 303
    assert path_of(removed) == "/editor/accounts?done=removed"
    assert emails(engine) == [
        ("ed@example.com", True),
        ("gen@example.com", False),
        ("owner@example.com", True),
    ]
    with httpx.Client(base_url=base) as newcomer:
        assert login(newcomer, password.group(1), email="gen@example.com").status_code == 303
    with session_scope(engine, read_only=True) as session:
        actions = {e.action for e in editors.recent_audit(session)}
    assert {"account-add", "account-owner", "account-remove", "login"} <= actions


def test_a_non_owner_gets_403_and_nothing_changes(base: str, engine: Engine) -> None:
    before = emails(engine)
    client, token = as_editor(base, "ed@example.com")
    with closing(client):
        answers = [
            client.get("/editor/accounts"),
            client.post("/editor/accounts/add", data={"csrf": token, "email": "x@example.com"}),
            client.post(
                "/editor/accounts/remove", data={"csrf": token, "email": "owner@example.com"}
            ),
            client.post(
                "/editor/accounts/owner",
                data={"csrf": token, "email": "ed@example.com", "owner": "1"},
            ),
        ]
    assert [a.status_code for a in answers] == [403] * 4
    assert all("Only owners manage accounts" in a.text for a in answers)
    assert emails(engine) == before


def test_csrf_last_owner_and_hostile_input(base: str, engine: Engine) -> None:
    before = emails(engine)
    client, token = as_editor(base, "owner@example.com")
    with closing(client):
        forged = [
            client.post(f"/editor/accounts/{path}", data={"email": "x@example.com", **extra})
            for path, extra in (("add", {}), ("remove", {}), ("owner", {"owner": "1"}))
        ]
        wrong = client.post(
            "/editor/accounts/add", data={"csrf": "0" * 64, "email": "x@example.com"}
        )
        last = client.post(
            "/editor/accounts/remove", data={"csrf": token, "email": "owner@example.com"}
        )
        demote = client.post(
            "/editor/accounts/owner",
            data={"csrf": token, "email": "owner@example.com", "owner": "0"},
        )
        hostile = client.post(
            "/editor/accounts/add",
            data={"csrf": token, "email": "<script>x</script>@example.com\r\nBcc: a@b.c"},
        )
        short = client.post(
            "/editor/accounts/add",
            data={"csrf": token, "email": "short@example.com", "password": "short"},
        )
    assert [a.status_code for a in [*forged, wrong]] == [403] * 4
    assert last.status_code == demote.status_code == 409 and "last owner" in last.text
    assert hostile.status_code == 422 and "<script>x" not in hostile.text
    assert short.status_code == 422 and "at least 12 characters" in short.text
    assert emails(engine) == before


def test_the_desk_navigation_links_accounts_for_owners_only(base: str) -> None:
    accounts = '<a href="/editor/accounts">Accounts</a>'
    for email, shown in (("owner@example.com", True), ("ed@example.com", False)):
        client, _ = as_editor(base, email)
        with closing(client):
            assert (accounts in client.get("/editor").text) is shown, email
