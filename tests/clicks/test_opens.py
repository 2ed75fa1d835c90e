"""Opens: a pixel only with DIGEST_TRACK_OPENS=on; image proxies (Gmail's, Apple Mail Privacy
Protection) are counted apart and never as a reader opening the email."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from digest.config import Settings
from tests.support.clicks import API_TOKEN, BROWSER, SENT_AT, Moment, figures, local, send_week
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

PIXEL = re.compile(r'<img src="([^"]+/r/[^"]+)" width="1" height="1"')
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
APPLE = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def test_no_pixel_by_default(engine: Engine, settings: Settings) -> None:
    _, copies = send_week(engine, settings, readers=1)
    assert PIXEL.search(copies[0].html) is None and "<img" not in copies[0].html


def test_proxies_are_counted_apart_from_readers(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_test_settings(
        tmp_path, database_url, api_token=API_TOKEN, track_opens="on", trusted_proxies="127.0.0.1"
    )
    _, copies = send_week(engine, settings, readers=3)
    pixels = [html.unescape(PIXEL.search(c.html).group(1)) for c in copies]  # type: ignore[union-attr]
    clock = Moment(SENT_AT + timedelta(minutes=5))
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        fetches = [
            (pixels[0], GMAIL, "66.249.84.1"),
            (pixels[1], APPLE, "17.58.1.2"),
            (pixels[1], BROWSER, "17.58.1.3"),  # from Apple's network, whatever it says
            (pixels[2], BROWSER, "81.2.3.4"),  # a reader whose mail app loads images
        ]
        for url, agent, ip in fetches:
            answer = client.get(
                local(url, settings, base), headers={"user-agent": agent, "x-forwarded-for": ip}
            )
            assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
        data = figures(client, base)
    assert data["proxy_opens"] == 3
    assert data["human_openers"] == 1
    assert data["raw_hits"] == 0  # an open is not a click
