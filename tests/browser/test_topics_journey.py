"""Done when (issue 13), in a real Chromium at phone width against the app on 127.0.0.1:
subscribe with two topics -> confirm -> the welcome arrives -> the weekly digest holds only those
topics -> open it on the web (the full issue, as a page of the site) -> share it.
Screenshots go to test-artifacts/topics-journey/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.models import ConsentRoute, metadata
from digest.readers import subscriptions
from tests.support.cli import digest_env, run_digest
from tests.support.issue_data import import_docs, topical_week, topics_of_doc
from tests.support.live_server import free_port, live_server
from tests.support.mailbox import Mail, wait_for_mail
from tests.support.settings import SECRET, make_test_settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "topics-journey"
PHONE = {"width": 375, "height": 740}
CARD = re.compile(r"https://site\.test/compare/([a-z0-9-]+)")
READER = "reader@example.com"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Settings, Engine, dict[str, str]]]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    settings = make_test_settings(
        tmp_path, url, base_url=base_url, subscribe_min_seconds=1, welcome_skip_hours=0
    )
    engine = make_engine(url)
    metadata.create_all(engine)
    env = digest_env(
        tmp_path,
        url,
        DIGEST_SECRET_KEY=SECRET,
        DIGEST_BASE_URL=base_url,
        DIGEST_WELCOME_SKIP_HOURS="0",
        # The cards are read off the comparison links; tracked links (/r/{token}) hide them.
        DIGEST_TRACK_CLICKS="off",
    )
    with live_server(settings, port):
        yield settings, engine, env
    engine.dispose()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{name}: the page scrolls sideways at phone width"


def mail_to(settings: Settings, subject: str) -> list[Mail]:
    found = wait_for_mail(settings.outbox_dir, 0, to=READER, timeout=0)
    return [mail for mail in found if mail.subject.startswith(subject)]


def test_two_topics_from_signup_to_a_shared_issue(
    world: tuple[Settings, Engine, dict[str, str]], browser: Any, tmp_path: Path
) -> None:
    settings, engine, env = world
    now = datetime.now(UTC)
    week = topical_week(now - timedelta(minutes=5), 8, long=False)
    import_docs(engine, week, now=now - timedelta(minutes=5))
    with session_scope(engine) as session:  # someone who takes every topic
        subscriptions.add_subscriber(
            session, "everything@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()

    page.goto(f"{settings.base_url}/")
    assert page.get_by_label("Email address").is_visible()
    box = page.get_by_label("Email address").bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]  # above the fold
    assert page.get_by_text("every Monday, 08:00 UTC").first.is_visible()
    page.get_by_label("Email address").fill(READER)
    page.get_by_label("Name").fill("Reader <3")
    page.locator("details.topics summary").click()  # <details>: no JavaScript needed
    page.get_by_label("Design", exact=True).check()
    page.get_by_label("Video", exact=True).check()
    shot(page, "01-subscribe-with-two-topics")
    page.wait_for_timeout(1200)  # people take a moment; the form refuses instant submissions
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    [confirmation] = wait_for_mail(settings.outbox_dir, to=READER)
    page.goto(confirmation.link("confirm"))
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    shot(page, "02-subscribed")

    wait_for_mail(settings.outbox_dir, 2, to=READER)
    [welcome] = mail_to(settings, "Welcome")
    assert "\nHi Reader <3,\n" in welcome.text and "Hi Reader &lt;3," in welcome.html
    assert "You chose: Design, Video." in " ".join(welcome.text.split())
    assert "No issue has gone out yet" in " ".join(welcome.text.split())
    page.set_content(welcome.html)
    shot(page, "03-welcome")

    sent = run_digest(["issue", "send", "--now", datetime.now(UTC).isoformat()], env, tmp_path)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    [digest] = [
        mail
        for mail in mail_to(settings, "")
        if "List-Unsubscribe" in mail.headers and not mail.subject.startswith("Welcome")
    ]
    chosen = {doc["slug"] for doc in week if topics_of_doc(doc) & {"Design", "Video"}}
    assert set(CARD.findall(digest.html)) == set(CARD.findall(digest.text)) == chosen
    assert len(chosen) < len(week)  # the reader did not get what they did not choose
    assert "Picked for your topics: Design, Video" in " ".join(digest.text.split())
    page.set_content(digest.html)
    shot(page, "04-digest-with-two-topics")

    page.goto(digest.link("issues"))  # "View in browser": the issue as a page of the site
    page.get_by_role("heading", level=1).wait_for()
    on_the_web = set(CARD.findall(page.content()))
    assert on_the_web == {doc["slug"] for doc in week}  # the web shows the full issue
    assert page.get_by_role("button", name="Subscribe").is_visible()
    assert "/unsubscribe" not in page.content()
    link = page.get_by_label("Link to this issue").input_value()
    assert link == page.url
    share = page.get_by_role("link", name="Share on X").get_attribute("href") or ""
    assert share.startswith("https://x.com/intent/post?") and "url=http%3A%2F%2F127.0.0.1" in share
    image_url = page.locator('meta[property="og:image"]').get_attribute("content")
    image = page.request.get(image_url)
    assert image.ok and image.headers["content-type"] == "image/png"
    shot(page, "05-issue-on-the-web")
    context.close()
