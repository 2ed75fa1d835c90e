"""A real Chromium renders the issue email at 375 and 600 px, the issue's web page too, and the
editor preview behind its login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from digest.render import public_copy
from tests.support.issue_data import hostile_doc, import_docs, week_of
from tests.support.live_server import free_port, live_server
from tests.support.settings import make_test_settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "editor-password-for-browser-tests"


@pytest.fixture
def sent_issue(sqlite_engine: Engine, sqlite_settings: Settings) -> int:
    now = datetime.now(UTC)
    docs = [*week_of(now, 6), hostile_doc(now - timedelta(minutes=1))]
    import_docs(sqlite_engine, docs, now=now)
    with session_scope(sqlite_engine) as session:
        issue = issues.claim_issue(session, sqlite_settings, now=now)
        return issues.freeze_issue(session, sqlite_settings, issue, now=now).number


def issue_email(engine: Engine, settings: Settings, number: int) -> str:
    """The sent email's HTML as a reader named Ann gets it (the archive's links, her greeting)."""
    with session_scope(engine, read_only=True) as session:
        issue = issues.get_published(session, number)
    return public_copy(settings, issues.frozen_email(issue), name="Ann").html


def no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"scrolls sideways: content {widths[0]} px > {widths[1]} px"


def assert_visible_within(page: Any, locator: Any, width: int) -> None:
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box


@pytest.mark.parametrize("width", [375, 600])
def test_issue_fits_the_screen(
    browser: Any, sqlite_engine: Engine, sqlite_settings: Settings, sent_issue: int, width: int
) -> None:
    html = issue_email(sqlite_engine, sqlite_settings, sent_issue)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(html)
    no_horizontal_scroll(page)
    headings = page.locator("h2 a")  # one linked heading per full card
    assert headings.count() == 5
    for index in range(headings.count()):
        assert_visible_within(page, headings.nth(index), width)
    assert_visible_within(page, page.get_by_text("Read the full comparison").first, width)
    assert_visible_within(page, page.get_by_role("link", name="Unsubscribe", exact=True), width)
    assert_visible_within(page, page.get_by_text("More verdicts this week"), width)
    assert page.locator("script").count() == 0  # hostile content stayed text
    assert_visible_within(page, page.get_by_text("Hi Ann,"), width)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"issue-{width}.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("width", [375, 600])
def test_the_issue_page_fits_the_screen(
    browser: Any, sqlite_settings: Settings, sent_issue: int, width: int
) -> None:
    with live_server(sqlite_settings) as base:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{base}/issues/{sent_issue}")
        no_horizontal_scroll(page)
        headings = page.locator("section.comparison h2 a")  # every comparison, in full
        assert headings.count() == 7
        for index in range(headings.count()):
            assert_visible_within(page, headings.nth(index), width)
        assert_visible_within(page, page.get_by_role("button", name="Subscribe"), width)
        assert page.locator("script:not([type='application/ld+json'])").count() == 0
        page.screenshot(path=str(ARTIFACTS / f"issue-page-{width}.png"), full_page=True)
        page.close()


# For every element holding text: its colour against the first opaque background behind it.
CONTRAST_JS = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.offsetParent === null) continue;
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) worst.push([el.textContent.trim().slice(0, 40), ratio.toFixed(2)]);
  }
  return worst;
}
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_is_readable_in_either_scheme(
    browser: Any, sqlite_engine: Engine, sqlite_settings: Settings, sent_issue: int, scheme: str
) -> None:
    """Explicit colours everywhere: WCAG AA contrast whatever the reader's colour scheme, in the
    email and on the issue's web page."""
    html = issue_email(sqlite_engine, sqlite_settings, sent_issue)
    with live_server(sqlite_settings) as base:
        context = browser.new_context(color_scheme=scheme, viewport={"width": 600, "height": 900})
        page = context.new_page()
        page.set_content(html)
        assert page.evaluate(CONTRAST_JS) == []
        page.goto(f"{base}/issues/{sent_issue}")
        assert page.evaluate(CONTRAST_JS) == []
        context.close()


def test_editor_preview_behind_login(
    browser: Any, tmp_path: Path, sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    now = datetime.now(UTC)
    import_docs(sqlite_engine, week_of(now, 3), now=now)
    port = free_port()  # redirects go to DIGEST_BASE_URL: let it be this server
    settings = make_test_settings(
        tmp_path,
        sqlite_settings.database_url,
        editor_password=PASSWORD,
        base_url=f"http://127.0.0.1:{port}",
    )
    with live_server(settings, port=port) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/editor/preview")
        assert page.url.endswith("/editor/login?next=%2Feditor%2Fpreview")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/editor/preview")  # logging in leads back to the page asked for
        for width in (600, 375):
            frame = page.frame_locator(f'iframe[width="{width}"]')
            assert frame.locator("h2").first.is_visible()
            button = frame.get_by_text("Read the full comparison").first
            assert button.is_visible()
            box = button.bounding_box()
            assert box is not None and box["width"] < width
        inner = [f for f in page.frames if f != page.main_frame]
        assert len(inner) == 2
        for frame in inner:
            sizes = frame.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert sizes[0] <= sizes[1], sizes
        assert page.locator("#text-part").is_visible()
        assert "Ready to send." in page.content()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "editor-preview.png"), full_page=False)
        page.close()
