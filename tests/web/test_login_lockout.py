"""A stranger's wrong guesses lock the strangers out of an address, never the browser its editor
logged in from before (`login_limits`' device cookie), over real HTTP on both engines."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.web.login_limits import ADDRESS_LIMIT, DEVICE_COOKIE
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings
from tests.web.test_editor import PASSWORD, login
from tests.web.test_editor_accounts_login import GOOD, add


@pytest.fixture
def shared(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(tmp_path, settings.database_url, editor_password=PASSWORD)


def known_browser(base: str) -> str:
    """Log in once with the shared password, as the editor's browser; its device cookie."""
    with httpx.Client(base_url=base) as editor:
        assert login(editor).status_code == 303
        return editor.cookies[DEVICE_COOKIE]


def tampered(cookie: str) -> str:
    """One signature character changed (not the last: base64 leaves some of its bits unused)."""
    spot = len(cookie) - 5
    return cookie[:spot] + ("A" if cookie[spot] != "A" else "B") + cookie[spot + 1 :]


def test_a_strangers_guesses_do_not_lock_the_editors_own_browser(shared: Settings) -> None:
    with live_server(shared) as base:
        device = known_browser(base)
        with httpx.Client(base_url=base) as stranger:
            for _ in range(ADDRESS_LIMIT):
                assert "not right" in login(stranger, "guess").text
            locked = login(stranger)  # even the right password: the address is locked to them
        assert locked.status_code == 401 and "Too many attempts" in locked.text
        with httpx.Client(base_url=base, cookies={DEVICE_COOKIE: device}) as editor:
            back = login(editor)
            assert back.status_code == 303 and "digest_editor" in editor.cookies
            assert editor.get("/editor").status_code == 200


def test_a_known_browser_has_its_own_few_guesses(shared: Settings) -> None:
    with live_server(shared) as base:
        device = known_browser(base)
        with httpx.Client(base_url=base, cookies={DEVICE_COOKIE: device}) as known:
            for _ in range(ADDRESS_LIMIT):
                assert "not right" in login(known, "guess").text
            locked = login(known)
        assert locked.status_code == 401 and "Too many attempts" in locked.text
        with httpx.Client(base_url=base) as elsewhere:  # its failures were its own
            assert login(elsewhere).status_code == 303


def test_a_forged_or_another_addresses_device_cookie_counts_for_nothing(
    settings: Settings, engine: Engine
) -> None:
    add(engine, "ed@example.com")
    add(engine, "al@example.com")
    with live_server(settings) as base:
        with httpx.Client(base_url=base) as al:
            assert login(al, GOOD, email="al@example.com").status_code == 303
            als_device = al.cookies[DEVICE_COOKIE]
        with httpx.Client(base_url=base) as stranger:
            for _ in range(ADDRESS_LIMIT):
                assert "do not match" in login(stranger, "guess", email="ed@example.com").text
        for cookie in (als_device, "forged", tampered(als_device), "x" * 300):
            with httpx.Client(base_url=base, cookies={DEVICE_COOKIE: cookie}) as other:
                refused = login(other, GOOD, email="ed@example.com")
            assert refused.status_code == 401 and "Too many attempts" in refused.text, cookie
