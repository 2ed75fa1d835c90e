"""Shared setup for click tests: a real week, readers, a real send to the outbox, and the
tracked links each reader got."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from digest import delivery
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import Pacer
from digest.transports import make_transport
from tests.support.issue_data import import_docs, week_of
from tests.support.ledger import FAST, add_readers
from tests.support.outbox import read_outbox

SENT_AT = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
HREF = re.compile(r'href="([^"]+)"')


@dataclass(frozen=True)
class Copy:
    to: str
    html: str
    text: str

    def hrefs(self) -> list[str]:
        return [html.unescape(h) for h in HREF.findall(self.html)]

    def tracked(self, base_url: str) -> list[str]:
        """The tracked links in page order, the hidden canary first."""
        return [h for h in self.hrefs() if h.startswith(f"{base_url}/r/")]


def send_week(
    engine: Engine, settings: Settings, *, readers: int, comparisons: int = 3
) -> tuple[int, list[Copy]]:
    """Import a week, add readers, freeze, enqueue and send to the outbox at SENT_AT."""
    import_docs(engine, week_of(SENT_AT, comparisons), now=SENT_AT)
    with session_scope(engine) as session:
        add_readers(session, readers)
        issue = delivery.open_period_issue(session, settings, now=SENT_AT)
        assert issue.id is not None
        issue_id = issue.id
    transport = make_transport(settings)
    try:
        delivery.send_issue(
            engine,
            settings,
            issue_id,
            transport=transport,
            pacer=Pacer(1000.0),
            now=SENT_AT,
            workers=1,
            policy=FAST,
        )
    finally:
        transport.close()
    return issue_id, [_copy(m) for m in read_outbox(settings.outbox_dir)]


def _copy(message: object) -> Copy:
    html_part = message.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    text_part = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    return Copy(str(message["To"]), html_part, text_part)  # type: ignore[index]


def local(url: str, settings: Settings, base: str) -> str:
    """A link from an email, pointed at the test server."""
    return url.replace(settings.base_url, base, 1)


BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
API_TOKEN = "clicks-api-token-0123456789"


class Moment:
    """The app's clock in click tests: each hit happens when the test says."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def hit(
    client: httpx.Client,
    url: str,
    *,
    clock: Moment,
    at: datetime,
    agent: str = BROWSER,
    method: str = "GET",
) -> httpx.Response:
    clock.at = at
    return client.request(method, url, headers={"user-agent": agent})


def figures(client: httpx.Client, base: str, number: int = 1) -> dict[str, Any]:
    answer = client.get(
        f"{base}/api/issues/{number}/clicks", headers={"authorization": f"Bearer {API_TOKEN}"}
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data
