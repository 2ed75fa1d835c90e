"""What we put on the wire, read by Node's mailparser (not Python): the one-click unsubscribe
URL is found, every header is the one we wrote, and hostile text stays text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digest.transports import Transport
from digest.transports.outbox import OutboxTransport
from digest.transports.smtp import SmtpTransport
from tests.support.node_mail import node_parse
from tests.support.smtp_inbox import Inbox, start
from tests.transports.contract import HOSTILE, hostile_email, make_email, visible

LONG_URL = "https://digest.test/unsubscribe/" + "Tok3n-_" * 20
RawWire = tuple[Transport, Callable[[], list[bytes]]]


@pytest.fixture(params=["outbox", "smtp"])
def wire(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RawWire]:
    if request.param == "outbox":
        folder = tmp_path / "outbox"
        yield (
            OutboxTransport(folder),
            lambda: [path.read_bytes() for path in sorted(folder.glob("*.eml"))],
        )
        return
    inbox = Inbox()
    controller = start(inbox, enable_SMTPUTF8=False)
    yield SmtpTransport(f"smtp://127.0.0.1:{controller.port}", timeout=5), lambda: inbox.raw
    controller.stop()


def test_the_one_click_unsubscribe_url_is_found(wire: RawWire) -> None:
    transport, raw = wire
    headers = {
        "List-Unsubscribe": f"<{LONG_URL}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    transport.send_batch([make_email(1, headers=headers)], idempotency_key="k")
    (message,) = raw()
    assert f"List-Unsubscribe: <{LONG_URL}>".encode() in message  # plain ASCII, one piece
    parsed = node_parse(message)
    assert parsed["headers"]["list"]["unsubscribe"]["url"] == LONG_URL
    assert parsed["headers"]["list"]["unsubscribe-post"]["name"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_in_its_header(wire: RawWire, text: str) -> None:
    transport, raw = wire
    emails = [make_email(0, headers=hostile_email(0, "").headers), hostile_email(1, text)]
    transport.send_batch(emails, idempotency_key="k")
    benign, attacked = (node_parse(message) for message in raw())
    assert attacked["headerLines"] == benign["headerLines"]
    subject = visible(attacked["subject"])
    assert subject.startswith("Alpha ") and subject.endswith(" vs Beta") and "\n" not in subject
    assert [box["address"] for box in attacked["from"]] == ["digest@example.com"]
    assert visible(attacked["from"][0]["name"]).startswith("Verdicts ")
    assert attacked["to"] == [{"name": "", "address": "reader1@example.com"}]
    assert (
        attacked["headers"]["list"]["unsubscribe"]["url"] == "http://digest.test/unsubscribe/tok1"
    )
    assert attacked["text"].strip() == "Hello 1 & welcome"


def test_non_ascii_text_and_domains_read_back(wire: RawWire) -> None:
    transport, raw = wire
    subject = "Café vs Naïve: both ship (4\u20130, 4\u20130) 🚀 " + "long " * 20
    email = make_email(
        1,
        subject=subject,
        to="leser@bücher.example",
        from_email="Verdicts \u00e9té <d@example.com>",
    )
    transport.send_batch([email], idempotency_key="k")
    (message,) = raw()
    assert message.isascii()
    parsed = node_parse(message)
    assert parsed["subject"] == subject.strip()
    assert parsed["from"] == [{"name": "Verdicts été", "address": "d@example.com"}]
    assert parsed["to"][0]["address"] in ("leser@bücher.example", "leser@xn--bcher-kva.example")
