"""The signup box the comparison site frames: a page on the site's own origin embeds /embed, a
reader subscribes from inside the frame, and the confirmation arrives. Only the site may frame it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from tests.support.live_server import free_port, live_server
from tests.support.mailbox import wait_for_mail
from tests.support.settings import make_test_settings

pytestmark = pytest.mark.browser


@contextmanager
def site_page(html: str, port: int | None = None) -> Iterator[str]:
    """A stand-in for the comparison site: one page, on an origin of its own."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def embedding_page(base: str) -> str:
    """The snippet README's "Embedding the signup" gives, on a page of the site."""
    return (
        "<!doctype html><html lang=en><head><title>A comparison</title></head><body><main>"
        "<h1>Cursor vs Windsurf</h1>"
        f'<iframe src="{base}/embed" title="Weekly AI Tool Verdicts signup" width="100%" '
        'height="170" style="border:0"></iframe></main></body></html>'
    )


@pytest.fixture
def app(tmp_path: Path, sqlite_settings: Settings, sqlite_engine: Engine) -> Iterator[Any]:
    port, site_port = free_port(), free_port()
    settings = make_test_settings(
        tmp_path,
        sqlite_settings.database_url,
        base_url=f"http://127.0.0.1:{port}",
        site_url=f"http://127.0.0.1:{site_port}",
        subscribe_min_seconds=0,
    )
    with live_server(settings, port) as base:
        yield settings, base, site_port


def test_a_reader_subscribes_from_the_box_on_the_sites_page(browser: Any, app: Any) -> None:
    settings, base, site_port = app
    with site_page(embedding_page(base), site_port) as site:  # DIGEST_SITE_URL's origin
        page = browser.new_page(viewport={"width": 375, "height": 740})
        page.goto(site)
        frame = page.frame_locator("iframe")
        frame.get_by_label("Email address").fill("framed@example.com")
        frame.get_by_role("button", name="Subscribe").click()
        page.wait_for_url(f"{base}/subscribe")  # the answer opens on our own pages, on top
        assert "Check your inbox" in page.content()
        page.close()
    mail = wait_for_mail(settings.outbox_dir, to="framed@example.com", timeout=30)
    assert mail and "/confirm/" in mail[0].text


def test_only_the_site_may_frame_the_box(browser: Any, app: Any) -> None:
    settings, base, _ = app
    policy = httpx.get(f"{base}/embed").headers["content-security-policy"]
    assert f"frame-ancestors 'self' {settings.site_url}" in policy
    assert "frame-ancestors 'none'" in httpx.get(f"{base}/").headers["content-security-policy"]
    with site_page(embedding_page(base)) as elsewhere:  # another origin: not the site
        page = browser.new_page()
        page.goto(elsewhere)
        frame = page.frames[-1]
        assert frame.locator("form").count() == 0  # the browser refused to show it
        page.close()
