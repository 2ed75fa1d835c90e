"""The RFC 5322 message (multipart/alternative: text, then HTML) that SMTP and the outbox send.

The header block is ours, line by line (headers.py): the email package only builds the body
parts, so it never parses, decodes or re-folds a header value that came from content. Bodies
are 7-bit (quoted-printable or base64 where needed): any server takes them, 8BITMIME or not.
"""

from __future__ import annotations

import hashlib
import io
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from digest.transports.address import sending_domain
from digest.transports.base import OutgoingEmail
from digest.transports.headers import custom_headers, header_line

TAG_HEADER_PREFIX = "X-Digest-Tag-"
_BODY_POLICY = SMTP.clone(cte_type="7bit")


def message_id(email: OutgoingEmail, *, idempotency_key: str) -> str:
    """The same for every build of this message under this key, and for no other message.

    Idempotency keys are random per database (fixed before the first attempt), so two
    databases sending from one domain (staging and production) never share a Message-ID,
    while a batch sent again under its key is byte for byte the same payload.
    """
    seed = f"{idempotency_key}\n{email.reference}".encode()
    return f"<{hashlib.sha256(seed).hexdigest()[:32]}@{sending_domain(email.from_email)}>"


def build_message(
    email: OutgoingEmail, *, idempotency_key: str, date: str = "", linesep: str = "\r\n"
) -> bytes:
    """The whole message as it goes on the wire (ASCII headers; CRLF line ends, or `linesep`
    for a file on this machine).

    Raises HeaderError or AddressError (headers.UNSENDABLE) when this message cannot be sent.
    """
    lines = [
        header_line("From", email.from_email),
        header_line("To", email.to),
        header_line("Subject", email.subject),
        header_line("Date", date or formatdate(usegmt=True)),
        header_line("Message-ID", message_id(email, idempotency_key=idempotency_key)),
        *(header_line(name, value) for name, value in custom_headers(email.headers)),
        *(header_line(tag_header(name), value) for name, value in email.tags.items()),
    ]
    head = "".join(lines).replace("\r\n", linesep)
    return head.encode("ascii") + _body(email, linesep)


def tag_header(name: str) -> str:
    """`X-Digest-Tag-<name>`, the name reduced to ASCII letters, digits and dashes."""
    safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name)
    return TAG_HEADER_PREFIX + safe[:40]


def _body(email: OutgoingEmail, linesep: str) -> bytes:
    """MIME-Version, Content-Type and the two parts, written by the email package."""
    container = EmailMessage(policy=_BODY_POLICY)
    container.set_content(email.text, subtype="plain", charset="utf-8")
    container.add_alternative(email.html, subtype="html", charset="utf-8")
    # Derived from the parts ("=_" never occurs in quoted-printable or base64 text), so the
    # same message builds to the same bytes.
    seed = f"{email.reference}\n{email.text}\n{email.html}".encode("utf-8", "replace")
    container.set_boundary(f"=_{hashlib.sha256(seed).hexdigest()[:28]}")
    out = io.BytesIO()
    BytesGenerator(out, policy=_BODY_POLICY.clone(linesep=linesep)).flatten(container)
    return out.getvalue()
