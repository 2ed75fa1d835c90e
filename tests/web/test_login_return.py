"""Back to the desk page asked for after logging in, and `next` never leads off the desk: a
login link on our domain must not end on another site (an open redirect)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.web.return_to import safe_next
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings
from tests.web.test_editor import PASSWORD, csrf_of, path_of

HOSTILE = [
    "https://evil.example/editor",
    "//evil.example/editor",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http:/editor",
    "javascript:alert(1)//editor",
    "/editor/../../evil",
    "/editor/./preview",
    "/editor//evil.example",
    "/editorial",
    "/",
    "",
    "/editor/login",
    "/editor/logout",
    "/editor/login/",
    "/editor/\r\nSet-Cookie: digest_editor=x",
    "/editor/%0d%0a\nLocation: https://evil.example",
    '/editor/"><script>alert(1)</script>',
    "/editor/#https://evil.example",
    "/editor/ preview",
    "/editor/\x00",
    "/editor/café",
    "/editor/" + "a" * 1200,
]
GOOD = [
    "/editor",
    "/editor/preview",
    "/editor/audit?before=40",
    "/editor/issues/3",
    "/editor/a%20b",
]


@pytest.fixture
def editor_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(tmp_path, settings.database_url, editor_password=PASSWORD)


def next_of(page: str) -> str | None:
    found = re.search(r'name="next" value="([^"]*)"', page)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.mark.parametrize("value", HOSTILE)
def test_a_next_that_could_leave_the_desk_is_dropped(value: str) -> None:
    assert safe_next(value) is None


@pytest.mark.parametrize("value", GOOD)
def test_a_desk_page_is_kept(value: str) -> None:
    assert safe_next(value) == value


def test_a_desk_page_asked_for_logged_out_is_where_the_login_leads(
    editor_settings: Settings,
) -> None:
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        asked = client.get("/editor/audit?before=40")
        assert asked.status_code == 303
        assert path_of(asked) == "/editor/login?next=%2Feditor%2Faudit%3Fbefore%3D40"
        form = client.get(path_of(asked))
        assert next_of(form.text) == "/editor/audit?before=40"
        fields = {"csrf": csrf_of(form.text), "password": PASSWORD, "next": next_of(form.text)}
        wrong = client.post("/editor/login", data={**fields, "password": "guess"})
        assert wrong.status_code == 401 and next_of(wrong.text) == "/editor/audit?before=40"
        done = client.post("/editor/login", data=fields)
        assert done.status_code == 303
        assert done.headers["location"] == f"{editor_settings.base_url}/editor/audit?before=40"
        assert client.get(path_of(done)).status_code == 200
        # The desk's front page needs no `next`, and a form posted logged out cannot come back.
        client.cookies.clear()
        assert path_of(client.get("/editor")) == "/editor/login"
        assert path_of(client.post("/editor/issues/1/approve", data={})) == "/editor/login"


def test_a_hostile_next_never_reaches_the_form_nor_the_redirect(
    editor_settings: Settings,
) -> None:
    with live_server(editor_settings) as base, httpx.Client(base_url=base) as client:
        for value in HOSTILE:
            form = client.get("/editor/login", params={"next": value})
            assert form.status_code == 200 and next_of(form.text) is None, value
        # logins are limited per client (LOGIN_LIMIT): the worst few, posted straight
        for value in HOSTILE[:6]:
            client.cookies.clear()
            csrf = csrf_of(client.get("/editor/login").text)
            done = client.post(
                "/editor/login", data={"csrf": csrf, "password": PASSWORD, "next": value}
            )
            assert done.status_code == 303, value
            assert done.headers["location"] == f"{editor_settings.base_url}/editor", value
