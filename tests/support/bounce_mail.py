"""Bounce and complaint messages as remote servers write them (RFC 3464 DSN, RFC 5965 ARF, a
qmail-style text bounce), addressed to whatever envelope sender (VERP) the original carried.
Written as raw text, the way the servers write them."""

from __future__ import annotations

import uuid
from email.utils import make_msgid


def _original(recipient: str, return_path: str | None) -> str:
    lines = [f"Return-Path: <{return_path}>"] if return_path else []
    lines += [
        "From: Weekly AI Tool Verdicts <digest@example.com>",
        f"To: {recipient}",
        "Subject: Issue #1: Ship or skip?",
        f"Message-ID: {make_msgid(domain='example.com')}",
        "",
        "This week's verdicts.",
    ]
    return "\r\n".join(lines)


def _report(kind: str, head: list[str], parts: list[tuple[str, str]]) -> bytes:
    boundary = f"b{uuid.uuid4().hex}"
    lines = [*head, "MIME-Version: 1.0"]
    lines.append(f'Content-Type: multipart/report; report-type={kind}; boundary="{boundary}"')
    lines += ["", "This is a MIME-encapsulated message.", ""]
    for content_type, body in parts:
        lines += [f"--{boundary}", f"Content-Type: {content_type}", "", body, ""]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode()


def dsn(
    recipient: str,
    *,
    status: str,
    diagnostic: str,
    action: str = "failed",
    to: str = "digest@example.com",
    message_id: str | None = None,
    return_path: str | None = None,
) -> bytes:
    """A Postfix-style delivery status notification about one recipient, sent to `to`."""
    head = [
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)",
        f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Message-ID: {message_id or make_msgid(domain='mx.example.org')}",
    ]
    fields = [f"Final-Recipient: rfc822; {recipient}", f"Action: {action}"]
    fields += [f"Status: {status}"] if status else []
    fields += [f"Diagnostic-Code: {diagnostic}"] if diagnostic else []
    notice = (
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. It's attached below.\r\n"
    )
    return _report(
        "delivery-status",
        head,
        [
            ("text/plain; charset=us-ascii", notice),
            (
                "message/delivery-status",
                "Reporting-MTA: dns; mx.example.org\r\n\r\n" + "\r\n".join(fields),
            ),
            ("message/rfc822", _original(recipient, return_path)),
        ],
    )


def arf_report(recipient: str, *, feedback: str = "abuse", return_path: str | None = None) -> bytes:
    """A mailbox provider's feedback report (RFC 5965) quoting our message."""
    head = [
        "From: Feedback Loop <fbl@mail.example.net>",
        "To: abuse@example.com",
        "Subject: Complaint about message",
        f"Message-ID: {make_msgid(domain='mail.example.net')}",
    ]
    fields = (
        f"Feedback-Type: {feedback}\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {recipient}"
    )
    return _report(
        "feedback-report",
        head,
        [
            ("text/plain", "This is an email abuse report for an email message received."),
            ("message/feedback-report", fields),
            ("message/rfc822", _original(recipient, return_path)),
        ],
    )


def plain_bounce(recipient: str, reason: str, *, to: str = "digest@example.com") -> bytes:
    """A qmail-style bounce: no report part, the reason in words."""
    lines = [
        "From: MAILER-DAEMON@mx.example.org",
        f"To: {to}",
        "Subject: failure notice",
        f"Message-ID: {make_msgid(domain='mx.example.org')}",
        "",
        "Hi. This is the qmail-send program at mx.example.org.",
        "I'm afraid I wasn't able to deliver your message to the following addresses.",
        "This is a permanent error; I've given up. Sorry it didn't work out.",
        "",
        f"<{recipient}>:",
        f"remote host said: {reason}",
        "",
        "--- Below this line is a copy of the message.",
        "",
        "Subject: Issue #1",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()
