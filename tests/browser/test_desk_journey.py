"""An editor's day on the desk in a real Chromium, against the app on 127.0.0.1 and a real
`digest worker` process: log in, see the next issue and when it goes out, approve it, press
"send now", watch the progress reach done, see the issue's figures; find a reader, open their
page, erase them; import a CSV with a bad row and see its line number. Every page is
photographed at 375 px and 1280 px into test-artifacts/desk-journey/ (the path is printed)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.models import Delivery, DeliveryStatus, metadata
from tests.support.cli import DIGEST, digest_env
from tests.support.desk_data import HOSTILE_NAME, reader
from tests.support.issue_data import import_docs, week_of
from tests.support.live_server import free_port, live_server
from tests.support.settings import SECRET, make_test_settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "desk-journey"
PASSWORD = "desk journey password"
READERS = 25
SEND_TIMEOUT_MS = 120_000  # generous: the worker polls every half second on a busy machine
WIDTHS = (375, 1280)


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Iterator[tuple[Settings, Engine, str]]:
    """The desk served on SQLite and on PostgreSQL, with a `digest worker` beside it."""
    port = free_port()
    url = database_url
    settings = make_test_settings(
        tmp_path, url, base_url=f"http://127.0.0.1:{port}", editor_password=PASSWORD
    )
    engine = make_engine(url)
    metadata.create_all(engine)
    now = datetime.now(UTC)
    import_docs(engine, week_of(now - timedelta(hours=2), 4), now=now)
    with session_scope(engine) as session:
        for n in range(READERS):
            reader(session, n, confirmed_at=now - timedelta(days=3))
        reader(session, 500, confirmed_at=now - timedelta(days=3), name="Zoë " + HOSTILE_NAME)
    env = digest_env(tmp_path, url, DIGEST_SECRET_KEY=SECRET)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [DIGEST, "worker", "--poll", "0.5"], env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        with live_server(settings, port=port) as base:
            yield settings, engine, base
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        engine.dispose()


def shoot(browser: Any, base: str, cookies: list[Any], path: str, name: str) -> None:
    """The page at both widths, full length, into ARTIFACTS."""
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(base + path)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        context.close()


def test_an_editors_day(browser: Any, desk: tuple[Settings, Engine, str], tmp_path: Path) -> None:
    _settings, engine, base = desk
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {ARTIFACTS}")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/editor/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/editor")
    cookies = context.cookies()

    # the next issue: what, when, to whom
    number = page.text_content("#next-title").split("#")[1].strip()
    assert "UTC" in page.text_content("#goes-out")  # the scheduler's next run, in its zone
    assert page.text_content("#audience").startswith(str(READERS + 1))
    assert page.locator("#next-comparisons li").count() == 4
    shoot(browser, base, cookies, "/editor", "overview")

    page.click("#approve")
    page.wait_for_url("**/editor?done=approved")
    assert "Approved by" in page.text_content("#approval")

    page.click("#send-now")
    page.wait_for_url(f"**/editor/issues/{number}?done=send-requested")
    # our script polls and reloads when the send is over: wait on the page, not the clock
    # (Playwright's `expect` waits without evaluating strings, which the page's CSP forbids)
    expect(page.locator("#issue-status")).to_have_text("sent", timeout=SEND_TIMEOUT_MS)
    # then it reloads once, to show the final figures without the script
    expect(page.locator("script[src='/editor/desk.js']")).to_have_count(0, timeout=SEND_TIMEOUT_MS)
    expect(page.locator("#progress-text")).to_have_text(
        f"{READERS + 1} of {READERS + 1}", timeout=SEND_TIMEOUT_MS
    )
    page.wait_for_load_state()
    assert f'<th scope="row">Sent</th><td class="number">{READERS + 1}</td>' in page.content()
    with session_scope(engine, read_only=True) as session:
        statuses = set(session.exec(select(Delivery.status)).all())
    assert statuses == {DeliveryStatus.SENT}
    shoot(browser, base, cookies, f"/editor/issues/{number}", "issue")

    # a reader: find, open, erase
    page.goto(base + "/editor/readers")
    page.fill("#q", "zoë")
    page.click("form[role=search] button[type=submit]")
    link = page.locator("#readers a")
    assert link.count() == 1 and "<script>" in page.text_content("#readers")  # shown as text
    shoot(browser, base, cookies, "/editor/readers?q=zo%C3%AB", "readers")
    link.click()
    page.wait_for_url("**/editor/readers/*")
    reader_path = page.url.removeprefix(base)
    shoot(browser, base, cookies, reader_path, "reader")
    page.check("#erase-confirm")
    page.click("#erase")
    page.wait_for_url("**?notice=erased")
    assert page.text_content("#reader-status") == "erased"
    assert "reader.erase" in page.text_content("#reader-audit")

    # an import with a bad row: its line number, nothing added
    bad = tmp_path / "list.csv"
    bad.write_text("email,name\nnew1@example.com,A\nnot an address,B\nnew2@example.com,C\n")
    page.goto(base + "/editor/readers")
    page.set_input_files("#import-file", str(bad))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#problems")
    assert "line 3" in page.text_content("#problems")
    page.screenshot(path=str(ARTIFACTS / "import-error-1280.png"), full_page=True)
    context.close()
    for name in ("overview", "issue", "readers", "reader"):
        for width in WIDTHS:
            assert (ARTIFACTS / f"{name}-{width}.png").stat().st_size > 10_000
