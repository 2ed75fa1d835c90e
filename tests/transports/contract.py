"""The contract every transport passes. A test module subclasses `TransportContract` and
provides a `harness` fixture: the transport plus a way to read what actually arrived."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from digest.transports import check_transport
from digest.transports.base import Checkable, OutgoingEmail, Transport


@dataclass
class Harness:
    transport: Transport
    received: Callable[[], list[EmailMessage]]  # every message that reached the other side
    raw: Callable[[], list[bytes]] | None = None  # their bytes, where the test can see them


def make_email(n: int, **changes: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "reference": f"i1-s{n}",
        "to": f"reader{n}@example.com",
        "from_email": "Weekly AI Tool Verdicts <digest@example.com>",
        "subject": f"Issue #1: Ship or skip? \u2014 caf\u00e9 \U0001f680 {n}",
        "html": f"<html><body><p>Hello {n} &amp; welcome</p></body></html>",
        "text": f"Hello {n} & welcome",
        "headers": {
            "List-Unsubscribe": f"<http://digest.test/unsubscribe/tok{n}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "tags": {"issue": "1"},
    }
    values.update(changes)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def by_recipient(messages: list[EmailMessage]) -> dict[str, list[EmailMessage]]:
    grouped: dict[str, list[EmailMessage]] = {}
    for message in messages:
        grouped.setdefault(str(message["To"]), []).append(message)
    return grouped


class TransportBasics:
    @pytest.fixture
    def harness(self) -> Harness:
        raise NotImplementedError

    def test_results_match_emails_in_order(self, harness: Harness) -> None:
        emails = [make_email(n) for n in range(3)]
        results = harness.transport.send_batch(emails, idempotency_key="batch-1")
        assert [r.reference for r in results] == [e.reference for e in emails]
        assert all(r.ok and r.provider_id for r in results)

    def test_every_recipient_gets_one_complete_message(self, harness: Harness) -> None:
        harness.transport.send_batch([make_email(n) for n in range(3)], idempotency_key="batch-1")
        grouped = by_recipient(harness.received())
        assert sorted(grouped) == [f"reader{n}@example.com" for n in range(3)]
        message = grouped["reader1@example.com"][0]
        assert str(message["Subject"]) == make_email(1).subject
        assert message["List-Unsubscribe"] == "<http://digest.test/unsubscribe/tok1>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        text_part = message.get_body(("plain",))
        html_part = message.get_body(("html",))
        assert text_part is not None and html_part is not None
        assert text_part.get_content().strip() == "Hello 1 & welcome"
        assert "Hello 1 &amp; welcome" in html_part.get_content()

    def test_same_batch_twice_delivers_once(self, harness: Harness) -> None:
        emails = [make_email(n) for n in range(2)]
        first = harness.transport.send_batch(emails, idempotency_key="batch-7")
        second = harness.transport.send_batch(emails, idempotency_key="batch-7")
        assert [r.provider_id for r in first] == [r.provider_id for r in second]
        assert all(len(v) == 1 for v in by_recipient(harness.received()).values())

    def test_close_is_safe(self, harness: Harness) -> None:
        harness.transport.send_batch([make_email(1)], idempotency_key="batch-1")
        harness.transport.close()


# Text from outside (a tool name, the editor's subject, a display name) that tried to become
# headers: encoded-words that decode to line breaks (q and b), an encoded blank line, raw line
# breaks and other control or separator characters.
HOSTILE = [
    "=?utf-8?q?=0D=0AReply-To:_a@evil.io?=",
    "=?utf-8?q?=0D=0A=0D=0A?=",
    "=?UTF-8?B?DQpCY2M6IGFAZXZpbC5pbw==?=",
    "=?iso-8859-1?q?=0A?=X-Evil:=?utf-8?q?_1?=",
    "x\r\nReply-To: a@evil.io",
    "\r\n\r\nbody",
    "a\x00b\x0bc\u2028d\x85e\u202ef",
]
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_names(message: EmailMessage) -> list[str]:
    return sorted(name.lower() for name in message)


def visible(text: str) -> str:
    """What a reader sees: without format characters (zero-width space, bidi controls)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def hostile_email(n: int, text: str) -> OutgoingEmail:
    return make_email(
        n,
        subject=f"Alpha {text} vs Beta",
        from_email=f"Verdicts {text} <digest@example.com>",
        headers={**make_email(n).headers, "X-Entity-Ref-ID": f"ref {text}"},
        tags={"issue": f"1 {text}"},
    )


class HeaderContract:
    """Every header we build, from any text, is exactly the header we meant."""

    @pytest.mark.parametrize("text", HOSTILE)
    def test_hostile_text_adds_no_header_and_hides_none(self, harness: Harness, text: str) -> None:
        emails = [make_email(0, headers=hostile_email(0, "").headers), hostile_email(1, text)]
        results = harness.transport.send_batch(emails, idempotency_key="k")
        assert all(r.ok for r in results), results
        grouped = by_recipient(harness.received())
        benign, attacked = grouped["reader0@example.com"][0], grouped["reader1@example.com"][0]
        assert header_names(attacked) == header_names(benign)
        subject = str(attacked["Subject"])
        assert not CONTROL.search(subject) and "=?" not in subject
        assert visible(subject).startswith("Alpha ") and visible(subject).endswith(" vs Beta")
        assert attacked["List-Unsubscribe"] == "<http://digest.test/unsubscribe/tok1>"
        assert attacked["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "digest@example.com" in str(attacked["From"])
        assert "evil" not in str(attacked["To"])
        text_part = attacked.get_body(("plain",))
        assert text_part is not None and text_part.get_content().strip() == "Hello 1 & welcome"

    def test_an_address_that_would_carry_headers_fails_alone(self, harness: Harness) -> None:
        emails = [
            make_email(0),
            make_email(1, to="reader1@example.com\r\nBcc: a@evil.io"),
            make_email(2, to="=?utf-8?q?reader1=0D=0ABcc:_a@evil.io?=@example.com"),
            make_email(3, to="=?utf-8?q?=0D=0A=0D=0A?=@example.com"),  # all atext, still hostile
            make_email(4, to="Reader <reader4@example.com>, c@evil.io"),
            make_email(5),
        ]
        results = harness.transport.send_batch(emails, idempotency_key="k")
        assert [r.ok for r in results] == [True, False, False, False, False, True]
        assert all(r.permanent for r in results[1:5])
        assert sorted(by_recipient(harness.received())) == [
            "reader0@example.com",
            "reader5@example.com",
        ]

    def test_url_headers_are_plain_ascii_on_the_wire(self, harness: Harness) -> None:
        url = "http://digest.test/unsubscribe/" + "t" * 120
        email = make_email(1, headers={"List-Unsubscribe": f"<{url}>"})
        harness.transport.send_batch([email], idempotency_key="k")
        (message,) = harness.received()
        assert message["List-Unsubscribe"] == f"<{url}>"
        if harness.raw is not None:
            (raw,) = harness.raw()
            assert re.search(rb"\nList-Unsubscribe: <" + re.escape(url.encode()) + rb">\r?\n", raw)


class TransportContract(TransportBasics, HeaderContract):
    """Everything every transport passes."""

    def test_check_proves_the_way_out_and_sends_nothing(self, harness: Harness) -> None:
        assert isinstance(harness.transport, Checkable)
        proven = check_transport(harness.transport)
        assert proven and harness.received() == []
        harness.transport.send_batch([make_email(1)], idempotency_key="batch-1")
        assert len(harness.received()) == 1  # the check left it able to send
