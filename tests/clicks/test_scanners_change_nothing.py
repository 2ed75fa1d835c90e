"""A scanner following every link of an email changes nobody's state: unsubscribe, confirm and
preferences act on POST only, whatever GET or HEAD brings. And no forged or altered token,
out of 10,000, ever gets a redirect."""

from __future__ import annotations

import asyncio
import random
import string
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import links
from digest.clicks import tags
from digest.config import Settings
from digest.db import session_scope
from digest.models import Subscriber, SubscriberStatus
from digest.web import create_app
from tests.support.clicks import SENT_AT, local, send_week
from tests.support.ledger import add_readers
from tests.support.live_server import live_server

HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36"


def test_a_scanner_on_unsubscribe_and_confirm_links_changes_nothing(
    engine: Engine, settings: Settings
) -> None:
    _, copies = send_week(engine, settings, readers=1)
    with session_scope(engine) as session:
        pending = add_readers(session, 1, start=50, status=SubscriberStatus.PENDING)[0]
        assert pending.id is not None
        confirm = links.confirm_url(
            settings, pending.id, email_hash=pending.email_hash, now=datetime.now(UTC)
        )  # the server checks its age against the real clock
    personal = [h for h in copies[0].hrefs() if "/unsubscribe/" in h or "/preferences/" in h]
    assert len(personal) == 2
    with live_server(settings) as base, httpx.Client() as client:
        for url in [*personal, confirm]:
            for method in ("GET", "HEAD"):
                answer = client.request(
                    method, local(url, settings, base), headers={"user-agent": HEADLESS}
                )
                assert answer.status_code in (200, 405), (method, url)  # a page, never an act
    with session_scope(engine, read_only=True) as session:
        states = {s.email: s.status for s in session.exec(select(Subscriber))}
    assert states["reader0@example.com"] == SubscriberStatus.CONFIRMED
    assert states["reader50@example.com"] == SubscriberStatus.PENDING


def forged_tokens(good: str, secret: str, count: int) -> list[str]:
    """Bit flips, cuts, extensions, random text, other keys and tampered payloads."""
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_."
    payload, _, signature = good.rpartition(".")
    evil = tags.sign_link(
        "not-our-secret-but-long-enough-0123456789",
        issue_id=1,
        link_id=1,
        url="https://evil.test/",
        expires=SENT_AT.date() + timedelta(days=999),
    )
    made: set[str] = {evil, payload, signature, good + "A", good[:-1], "." + signature}
    while len(made) < count:
        kind = rng.randrange(4)
        if kind == 0:  # one character changed anywhere
            at = rng.randrange(len(good))
            made.add(good[:at] + rng.choice(alphabet.replace(good[at], "")) + good[at + 1 :])
        elif kind == 1:  # cut short
            made.add(good[: rng.randrange(1, len(good))])
        elif kind == 2:  # random text of a plausible length
            made.add("".join(rng.choice(alphabet) for _ in range(rng.randint(8, 200))))
        else:  # the payload of another link under this token's signature
            other = tags.sign_link(
                secret,
                issue_id=1,
                link_id=rng.randint(2, 99),
                url="https://evil.test/",
                expires=SENT_AT.date(),
            )
            made.add(other.rpartition(".")[0] + "." + signature)
    made.discard(good)
    return sorted(made)[:count]


def test_ten_thousand_forged_tokens_get_no_redirect(
    sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    """One engine: a refused token never reaches the store."""
    settings = sqlite_settings
    _, copies = send_week(sqlite_engine, settings, readers=1)
    good = copies[0].tracked(settings.base_url)[1].split("/r/")[1].split("?")[0]
    tokens = forged_tokens(good, settings.secret, 10_000)
    assert len(tokens) == 10_000

    async def run() -> list[tuple[int, str | None]]:
        gate = asyncio.Semaphore(16)
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://digest.test") as client:

            async def one(token: str) -> tuple[int, str | None]:
                async with gate:
                    answer = await client.get(f"/r/{token}", params={"t": "1-AAAAAAAAAAAAAAAA"})
                    return answer.status_code, answer.headers.get("location")

            return await asyncio.gather(*(one(token) for token in tokens))

    answers = asyncio.run(run())
    redirects = [a for a in answers if a[1] is not None or 300 <= a[0] < 400]
    assert redirects == []
    assert {status for status, _ in answers} <= {404}
