"""The fast build (an issue's frozen text encoded once) against the plain one as an oracle.

mime.py no longer hands each copy to the email package; tests/support/stdlib_mime.py still
does, for every recipient from scratch. What the outbox writes and what SMTP delivers must be
the very bytes the plain build gives, for the real sample issue and readers whose names and
addresses push every choice (7bit / quoted-printable / base64, folding, encoded words).
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest import delivery
from digest.config import Settings
from digest.db import session_scope
from digest.delivery.claims import Recipient
from digest.delivery.compose import Composer
from digest.readers.subscriptions import email_hash
from digest.transports.base import OutgoingEmail
from digest.transports.body_encoding import encode_body
from digest.transports.headers import HeaderError
from digest.transports.mime import build_message
from digest.transports.outbox import OutboxTransport
from digest.transports.smtp import SmtpTransport
from tests.support.node_mail import node_parse
from tests.support.samples import load, sample_documents
from tests.support.smtp_inbox import Inbox, start
from tests.support.stdlib_mime import BODY_POLICY, stdlib_message
from tests.transports.contract import make_email

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
KEY = "oracle-key"
READERS = [  # (address, greeting name)
    ("ann@example.com", "Ann"),
    ("nobody@example.com", None),
    ("zoe@example.com", "Zoë Ångström-Ørsted"),
    ("li@example.com", "李小龙 " * 30),  # a greeting that tips the text part to base64
    ("x" * 64 + "@" + "sub." * 40 + "example.com", "A" * 300),  # long address, long name
    ("leser@bücher.example", "=?utf-8?q?=0D=0AReply-To:_a@evil.io?= <b>&amp;</b>"),
    ("tab@example.com", "trailing space \t"),
]


@pytest.fixture
def copies(engine: Engine, settings: Settings) -> list[OutgoingEmail]:
    """The sample issue, frozen in the store, composed for every reader in READERS."""
    load(engine, sample_documents(), now=NOW - timedelta(days=1))
    with session_scope(engine) as session:
        issue = delivery.open_period_issue(session, settings, now=NOW)
    composer = Composer(settings, issue, now=NOW)
    return [
        composer.for_recipient(Recipient(n, n + 1, address, email_hash(address), name=name))
        for n, (address, name) in enumerate(READERS)
    ]


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[SmtpTransport, Inbox]]:
    inbox = Inbox()
    controller = start(inbox, enable_SMTPUTF8=False)
    yield SmtpTransport(f"smtp://127.0.0.1:{controller.port}", timeout=5), inbox
    controller.stop()


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_same_as_plain_build(raw: bytes, copy: OutgoingEmail, linesep: str) -> None:
    message = parsed(raw)
    date = re.search(rb"^Date: ([^\r\n]+)", raw, re.MULTILINE)
    assert date is not None
    plain = stdlib_message(copy, idempotency_key=KEY, date=date[1].decode(), linesep=linesep)
    assert raw == plain
    assert max(len(line) for line in raw.split(linesep.encode())) <= 998
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert lines_of(text.get_content()) == lines_of(copy.text)
    assert lines_of(html.get_content()) == lines_of(copy.html)


def lines_of(body: str) -> list[str]:
    return body.splitlines()


def test_the_outbox_writes_what_the_plain_build_writes(
    copies: list[OutgoingEmail], tmp_path: Path
) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    results = outbox.send_batch(copies, idempotency_key=KEY)
    assert all(result.ok for result in results)
    encodings = set()
    for copy in copies:
        raw = outbox.path_for(copy).read_bytes()
        assert_same_as_plain_build(raw, copy, os.linesep)
        encodings |= {str(part["Content-Transfer-Encoding"]) for part in parsed(raw).walk()}
    assert {"quoted-printable", "base64"} <= encodings  # the greeting changed the choice
    for copy in copies[2:4]:  # and a parser that is not Python's reads each reader's own copy
        seen = node_parse(outbox.path_for(copy).read_bytes())
        assert lines_of(seen["text"]) == lines_of(copy.text)
        unsubscribe = copy.headers["List-Unsubscribe"].strip("<>")
        assert seen["headers"]["list"]["unsubscribe"]["url"] == unsubscribe


def test_smtp_delivers_what_the_plain_build_writes(
    copies: list[OutgoingEmail], smtp_inbox: tuple[SmtpTransport, Inbox]
) -> None:
    transport, inbox = smtp_inbox
    results = transport.send_batch(copies, idempotency_key=KEY)
    assert all(result.ok for result in results)
    assert len(inbox.raw) == len(copies)
    for raw, copy in zip(inbox.raw, copies, strict=True):
        assert_same_as_plain_build(raw, copy, "\r\n")


def test_pieces_that_do_not_add_up_to_the_body_are_ignored() -> None:
    honest = make_email(1, html="<p>Hi Ann, é</p>" * 40, html_parts=("<p>Hi ", "Ann", ", é</p>"))
    assert build_message(honest, idempotency_key=KEY, date="D") == stdlib_message(
        honest, idempotency_key=KEY, date="D"
    )


def test_a_refused_header_is_refused_every_time() -> None:
    """Header lines shared by an issue's copies are cached; refusals are not."""
    bad = make_email(1, headers={"List-Unsubscribe": "<javascript:alert(1)>"})
    for _ in range(2):
        with pytest.raises(HeaderError):
            build_message(bad, idempotency_key=KEY)


def random_pieces(rnd: random.Random) -> list[str]:
    """Frozen text and values of every awkward kind: "=" at cut points, line ends split over
    pieces, trailing blanks, long lines, characters of one to four UTF-8 bytes."""
    alphabet = ["a", "=", " ", "\t", "é", "—", "🚀", "\r", "\n", "\r\n", "<td style=x>", "."]

    def text(most: int) -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, most)))

    frozen = [text(rnd.choice([2, 40, 400])) + "x" * rnd.choice([0, 75, 160]) for _ in range(4)]
    values = [text(rnd.choice([0, 3, 90])) for _ in range(3)]
    return [piece for pair in zip(frozen, [*values, ""], strict=True) for piece in pair][:-1]


def test_encoded_bodies_equal_the_email_packages_for_random_pieces() -> None:
    rnd = random.Random(14)
    for _ in range(400):
        pieces = random_pieces(rnd)
        reference = EmailMessage(policy=BODY_POLICY)
        reference.set_content("".join(pieces), subtype="plain", charset="utf-8")
        encoding, payload = encode_body(pieces)
        assert (encoding, payload) == (
            reference["Content-Transfer-Encoding"],
            reference.get_payload(),
        ), pieces
