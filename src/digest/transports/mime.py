"""The RFC 5322 message (multipart/alternative: text, then HTML) that SMTP and the outbox send.

The header block is ours, line by line (headers.py), so nothing parses, decodes or re-folds a
header value that came from content. Bodies are 7-bit (quoted-printable or base64 where
needed): any server takes them, 8BITMIME or not. They are encoded as the email package encodes
them, the issue's frozen text once per issue (body_encoding.py), not ~4 ms per recipient.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email.utils import formatdate
from functools import lru_cache

from digest.transports.address import sending_domain
from digest.transports.base import OutgoingEmail
from digest.transports.body_encoding import encode_body
from digest.transports.headers import custom_headers, header_line

TAG_HEADER_PREFIX = "X-Digest-Tag-"
# From, Subject, List-Id, the tags: the same for every recipient of an issue, so written once
# (a refused header raises again: exceptions are not cached). A caller's headers may differ per
# recipient (List-Unsubscribe): they only pass through, least recently used first out.
shared_header_line = lru_cache(maxsize=1024)(header_line)


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
        shared_header_line("From", email.from_email),
        header_line("To", email.to),
        shared_header_line("Subject", email.subject),
        header_line("Date", date or formatdate(usegmt=True)),
        header_line("Message-ID", message_id(email, idempotency_key=idempotency_key)),
        *(shared_header_line(name, value) for name, value in custom_headers(email.headers)),
        *(shared_header_line(tag_header(name), value) for name, value in email.tags.items()),
    ]
    head = "".join(lines).replace("\r\n", linesep)
    return (head + _body(email, linesep)).encode("ascii")


def tag_header(name: str) -> str:
    """`X-Digest-Tag-<name>`, the name reduced to ASCII letters, digits and dashes."""
    safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name)
    return TAG_HEADER_PREFIX + safe[:40]


def _body(email: OutgoingEmail, linesep: str) -> str:
    """MIME-Version, Content-Type and the two parts, as the email package wrote them (with
    its stray MIME-Version in the second part): the bytes did not change when mime.py stopped
    building an EmailMessage per recipient (tests/transports/test_mime_oracle.py)."""
    text_encoding, text = encode_body(pieces(email.text, email.text_parts))
    html_encoding, html = encode_body(pieces(email.html, email.html_parts))
    # Derived from the parts ("=_" never occurs in quoted-printable or base64 text), so the
    # same message builds to the same bytes.
    seed = f"{email.reference}\n{email.text}\n{email.html}".encode("utf-8", "replace")
    boundary = f"=_{hashlib.sha256(seed).hexdigest()[:28]}"
    body = (
        f'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="{boundary}"\n\n'
        f'--{boundary}\nContent-Type: text/plain; charset="utf-8"\n'
        f"Content-Transfer-Encoding: {text_encoding}\n\n{text}\n"
        f'--{boundary}\nContent-Type: text/html; charset="utf-8"\n'
        f"Content-Transfer-Encoding: {html_encoding}\nMIME-Version: 1.0\n\n{html}\n"
        f"--{boundary}--\n"
    )
    return body if linesep == "\n" else body.replace("\n", linesep)


def pieces(body: str, parts: Sequence[str]) -> Sequence[str]:
    """The body as frozen text and personal values, when the sender gave them and they add up
    to the body; else the body as one piece (not cached: it is nobody else's)."""
    if parts and len(parts) % 2 == 1 and "".join(parts) == body:
        return parts
    return ("", body)
