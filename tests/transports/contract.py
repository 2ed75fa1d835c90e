"""The contract every transport passes. A test module subclasses `TransportContract` and
provides a `harness` fixture: the transport plus a way to read what actually arrived."""

from __future__ import annotations

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


class TransportContract:
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

    def test_check_proves_the_way_out_and_sends_nothing(self, harness: Harness) -> None:
        assert isinstance(harness.transport, Checkable)
        proven = check_transport(harness.transport)
        assert proven and harness.received() == []
        harness.transport.send_batch([make_email(1)], idempotency_key="batch-1")
        assert len(harness.received()) == 1  # the check left it able to send
