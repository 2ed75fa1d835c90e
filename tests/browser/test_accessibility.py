"""axe-core (the real checker, from npm) in a real Chromium: every page and every email kind has
zero violations (the reader's pages and mail, topics and the welcome, the archive as a site, the
short-lived data link and its email, the editor).

The pages are served by the running app; the emails are the exact HTML a reader gets, loaded
into the page the way a webmail client shows them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from digest import catalog, clicks, issues, links
from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, MessageKind
from digest.readers import mail_compose, mail_queue, subscriptions
from digest.render import RenderedEmail, public_copy
from tests.support.issue_data import comparison_doc, hostile_doc, import_docs, week_of
from tests.support.live_server import free_port, live_server
from tests.support.settings import make_test_settings

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "editor-password-for-axe-tests"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
  }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = f"axe-core is not installed at {AXE} (make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def site(
    tmp_path: Path, sqlite_settings: Settings, sqlite_engine: Engine
) -> Iterator[dict[str, Any]]:
    """A running app with a sent issue, the next one in the making (three comparisons published
    since), one reader and the editor enabled. Redirects (the editor's login) go to
    DIGEST_BASE_URL, so that is the running app's own address."""
    port = free_port()
    settings = make_test_settings(
        tmp_path,
        sqlite_settings.database_url,
        editor_password=PASSWORD,
        base_url=f"http://127.0.0.1:{port}",
    )
    now = datetime.now(UTC)
    sent_at = now - timedelta(days=1)
    import_docs(sqlite_engine, [*week_of(sent_at, 6), hostile_doc(sent_at)], now=sent_at)
    with session_scope(sqlite_engine) as session:
        claimed = issues.claim_issue(session, settings, now=sent_at)
        issue = issues.freeze_issue(session, settings, claimed, now=sent_at)
        clicks.prepare_tracking(session, settings, issue)  # the desk's Clicks table has rows
    import_docs(
        sqlite_engine,
        [comparison_doc(20 + n, now - timedelta(hours=n + 1)) for n in range(3)],
        now=now,
    )
    with session_scope(sqlite_engine) as session:
        reader = subscriptions.add_subscriber(
            session, "ann@example.com", name="Ann", route=ConsentRoute.FORM, now=now
        )
        confirm = mail_queue.queue_message(session, reader, MessageKind.CONFIRM, now=now)
        manage = mail_queue.queue_message(session, reader, MessageKind.MANAGE, now=now)
        data = mail_queue.queue_message(session, reader, MessageKind.DATA, now=now)
        emails = {
            "issue email": public_copy(settings, issues.frozen_email(issue), name="Ann").html,
            "topic variant email": _variant(session, settings, issue),
            "confirmation email": _html(mail_compose.compose(settings, confirm, reader)),
            "link email": _html(mail_compose.compose(settings, manage, reader)),
            "data link email": _html(mail_compose.compose(settings, data, reader)),
            "welcome email": _welcome(session, settings, issue, now=now),
            "welcome email, no issue yet": _welcome(session, settings, None, now=now),
        }
    tokens = {  # paths: the live server's address replaces DIGEST_BASE_URL
        name: url(settings, reader.id or 0, email_hash=reader.email_hash, now=now).removeprefix(
            settings.base_url
        )
        for name, url in (
            ("confirm", links.confirm_url),
            ("unsubscribe", links.unsubscribe_url),
            ("preferences", links.preferences_url),
            ("data", links.data_url),
        )
    }
    with live_server(settings, port=port) as base:
        yield {"base": base, "number": issue.number, "tokens": tokens, "emails": emails}


def _html(email: Any) -> str:
    assert email is not None
    return str(email.html)


def _variant(session: Any, settings: Settings, issue: Any) -> str:
    """The issue as readers of one topic get it, greeted by name."""
    [topic] = catalog.resolve_slugs(session, ["developer-tools"])
    assert topic.id is not None
    variants = issues.freeze_variants(session, settings, issue, [frozenset({topic.id})])
    [variant] = issues.variants_of(session, issue.id)
    assert variants and variant.html
    email = RenderedEmail(variant.subject, variant.preheader, variant.html, variant.text)
    return public_copy(settings, email, name="Ann").html


def _welcome(session: Any, settings: Settings, issue: Any, *, now: datetime) -> str:
    """The welcome a confirmed reader gets (with the issue's cards, or before any issue)."""
    reader = subscriptions.add_subscriber(
        session,
        f"bea{issue is None}@example.com",
        name="Bea",
        confirmed=True,
        route=ConsentRoute.FORM,
        now=now,
    )
    message = mail_queue.queue_message(
        session, reader, MessageKind.WELCOME, now=now, issue_id=issue.id if issue else None
    )
    content = mail_compose.load_welcome(session, message, reader)
    return _html(mail_compose.compose(settings, message, reader, content))


def violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=axe_source)
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return found


def check(page: Any, axe_source: str, where: str) -> None:
    found = violations(page, axe_source)
    assert not found, f"{where}: {json.dumps(found, indent=1)}"


def public_pages(site: dict[str, Any]) -> dict[str, str]:
    base, tokens = site["base"], site["tokens"]
    return {
        "front page": f"{base}/",
        "archive": f"{base}/issues",
        "issue page": f"{base}/issues/{site['number']}",
        "missing issue": f"{base}/issues/9999",
        "missing page": f"{base}/no/such/page",
        "ask for a link": f"{base}/preferences",
        "anonymous unsubscribe": f"{base}/unsubscribe",
        "confirm page": base + tokens["confirm"],
        "unsubscribe page": base + tokens["unsubscribe"],
        "preferences page": base + tokens["preferences"],
        "my data page": base + tokens["data"],
        "bad link": f"{base}/confirm/not-a-token",
        "editor login": f"{base}/editor/login",
        "embedded signup box": f"{base}/embed",
    }


def test_every_public_page_has_no_violations(
    browser: Any, axe_source: str, site: dict[str, Any]
) -> None:
    page = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}).new_page()
    for where, address in public_pages(site).items():
        page.goto(address)
        check(page, axe_source, where)
    page.goto(site["base"] + "/")
    page.fill("input[name=email]", "someone@example.com")
    page.click("details.topics summary")
    page.check("input[name=topics][value=developer-tools]")
    page.eval_on_selector("input[name=form_stamp]", "e => e.value = ''")  # no usable stamp
    page.click("form[action='/subscribe'] button[type=submit]")
    assert page.locator("input[name=topics][value=developer-tools]").is_checked()
    check(page, axe_source, "press once more")
    time.sleep(2.5)  # the fresh stamp must be older than DIGEST_SUBSCRIBE_MIN_SECONDS
    page.click("form[action='/subscribe'] button[type=submit]")
    assert "Check your inbox" in page.content()
    check(page, axe_source, "after subscribing")
    page.goto(site["base"] + site["tokens"]["preferences"])
    page.click("form:has(input[value=email-data-link]) button[type=submit]")
    check(page, axe_source, "preferences, data link sent")
    page.close()


def test_the_editor_pages_have_no_violations(
    browser: Any, axe_source: str, site: dict[str, Any]
) -> None:
    page = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}).new_page()
    page.goto(site["base"] + "/editor/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/editor")
    page.goto(site["base"] + "/editor/preview")
    check(page, axe_source, "editor preview")
    assert tab_to(page, "text-part"), "the plain-text part cannot be reached with the Tab key"
    page.keyboard.press("PageDown")
    # The browser may scroll smoothly, after the key press returns: wait for it (failed once
    # in CI when read at once). A part that never scrolls still fails, after the timeout.
    page.wait_for_function("document.querySelector('#text-part').scrollTop > 0", timeout=10_000)
    page.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_desk_pages_have_no_violations(
    browser: Any, axe_source: str, site: dict[str, Any], width: int
) -> None:
    """The overview (with its charts), an issue, the readers, a reader, and a form error."""
    page = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900}).new_page()
    page.goto(site["base"] + "/editor/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/editor")
    check(page, axe_source, f"desk overview at {width} px")
    page.click("details:has(#growth-table) summary")
    check(page, axe_source, f"desk overview, growth table open, at {width} px")
    for where, path in (
        ("desk issue", f"/editor/issues/{site['number']}"),
        ("desk readers", "/editor/readers?q=ann"),
        ("desk reader", "/editor/readers/1"),
        ("desk readers, bad page", "/editor/readers?after=x"),
    ):
        page.goto(site["base"] + path)
        check(page, axe_source, f"{where} at {width} px")
    page.goto(site["base"] + f"/editor/issues/{site['number']}")
    assert page.locator("#click-links tbody tr").count() > 0  # the Clicks table was checked
    page.goto(site["base"] + "/editor/readers/1")
    page.click("#suppress")  # the reason is required: the browser says so, nothing is sent
    page.fill("#suppress-reason", " ")
    page.click("#suppress")
    check(page, axe_source, f"desk reader, form error, at {width} px")
    page.close()


def tab_to(page: Any, element_id: str, *, presses: int = 400) -> bool:
    """Press Tab until the element has the keyboard focus; False if it never gets it."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return True
    return False


@pytest.mark.parametrize(
    "kind",
    [
        "issue email",
        "topic variant email",
        "confirmation email",
        "link email",
        "data link email",
        "welcome email",
        "welcome email, no issue yet",
    ],
)
def test_every_email_has_no_violations(
    browser: Any, axe_source: str, site: dict[str, Any], kind: str
) -> None:
    page = browser.new_page(viewport={"width": 600, "height": 900})
    page.set_content(site["emails"][kind])
    check(page, axe_source, kind)
    page.close()


def test_the_audit_and_accounts_pages_have_no_violations(
    browser: Any, axe_source: str, site: dict[str, Any]
) -> None:
    """The desk's audit log and accounts pages (issue 11), wide and phone-sized, no sideways
    scroll."""
    page = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}).new_page()
    page.goto(site["base"] + "/editor/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/editor/login"))
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ("/editor/audit", "/editor/accounts"):
            page.goto(site["base"] + path)
            check(page, axe_source, f"{path} at {width} px")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} scrolls sideways at {width} px"
    page.close()
