"""A reader's whole journey in a real Chromium at phone width, against the app on 127.0.0.1:
subscribe -> confirmation email -> confirm -> an issue arrives -> one-click unsubscribe from the
issue -> the next issue does not come. Screenshots go to test-artifacts/reader-journey/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.models import ConsentRoute, metadata
from digest.readers import subscriptions
from digest.web.app import create_app
from tests.support.cli import digest_env, run_digest
from tests.support.issue_data import import_docs, week_of
from tests.support.live_server import free_port
from tests.support.mailbox import Mail, wait_for_mail
from tests.support.settings import SECRET, make_test_settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reader-journey"
PHONE = {"width": 375, "height": 812}


@contextmanager
def serve(settings: Settings, port: int) -> Iterator[None]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Settings, Engine, dict[str, str]]]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    settings = make_test_settings(tmp_path, url, base_url=base_url, subscribe_min_seconds=1)
    engine = make_engine(url)
    metadata.create_all(engine)
    env = digest_env(tmp_path, url, DIGEST_SECRET_KEY=SECRET, DIGEST_BASE_URL=base_url)
    with serve(settings, port):
        yield settings, engine, env
    engine.dispose()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{name}: the page scrolls sideways at phone width"


def send_issue(env: dict[str, str], tmp_path: Path, when: datetime) -> None:
    result = run_digest(["issue", "send", "--now", when.isoformat()], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def issue_mail(outbox: Path, to: str) -> list[Mail]:
    """The weekly issues `to` got (the welcome, which also has List-Unsubscribe, is not one)."""
    return [
        m
        for m in wait_for_mail(outbox, 0, to=to, timeout=0)
        if "List-Unsubscribe" in m.headers and not m.subject.startswith("Welcome")
    ]


def test_reader_journey(
    world: tuple[Settings, Engine, dict[str, str]], browser: Any, tmp_path: Path
) -> None:
    settings, engine, env = world
    # `digest issue send --now` waits for batches to fall due by the real clock, so the first
    # issue goes out "last week" and the second one now.
    now = datetime.now(UTC)
    last_week = now - timedelta(days=7)
    import_docs(engine, week_of(last_week - timedelta(minutes=1), 2), now=last_week)
    with session_scope(engine) as session:  # someone else, so each issue really goes out
        subscriptions.add_subscriber(
            session, "control@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()

    page.goto(f"{settings.base_url}/")
    shot(page, "01-subscribe-form")
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_label("Name").fill("Reader")
    page.wait_for_timeout(1200)  # people take a moment; the form refuses instant submissions
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    shot(page, "02-check-your-inbox")

    confirmation = wait_for_mail(settings.outbox_dir, to="reader@example.com")
    assert len(confirmation) == 1 and "Reader" not in confirmation[0].text
    page.goto(confirmation[0].link("confirm"))
    page.get_by_role("button", name="Confirm my subscription").wait_for()
    shot(page, "03-confirm")
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    shot(page, "04-subscribed")
    page.get_by_role("link", name="Your settings").click()
    page.get_by_role("heading", name="Your settings").wait_for()
    assert page.get_by_label("How we greet you").input_value() == "Reader"
    shot(page, "04b-settings")

    send_issue(env, tmp_path, last_week)
    first = issue_mail(settings.outbox_dir, "reader@example.com")
    assert len(first) == 1
    assert first[0].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page.goto(first[0].link("unsubscribe"))
    page.get_by_role("button", name="Unsubscribe").wait_for()
    shot(page, "05-unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert page.get_by_role("button", name="Undo: resubscribe me").is_visible()
    shot(page, "06-unsubscribed-with-undo")
    context.close()

    this_week = week_of(now - timedelta(minutes=1), 2, long=False)
    for doc in this_week:
        doc["slug"] += "-this-week"
    import_docs(engine, this_week, now=now)
    send_issue(env, tmp_path, datetime.now(UTC))
    assert len(issue_mail(settings.outbox_dir, "control@example.com")) == 2
    assert len(issue_mail(settings.outbox_dir, "reader@example.com")) == 1
