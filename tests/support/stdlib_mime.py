"""The message built the plain way, for every recipient from scratch: the email package encodes
both bodies (`EmailMessage.set_content`) and every header is written anew. This is how mime.py
built messages before it encoded an issue's frozen text once; tests use it as the oracle the
fast build must equal byte for byte, and bench/outbox.py as the cost it replaced.
"""

from __future__ import annotations

import hashlib
import io
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP

from digest.transports.base import OutgoingEmail
from digest.transports.headers import custom_headers, header_line
from digest.transports.mime import message_id, tag_header

BODY_POLICY = SMTP.clone(cte_type="7bit")


def stdlib_message(
    email: OutgoingEmail, *, idempotency_key: str, date: str, linesep: str = "\r\n"
) -> bytes:
    lines = [
        header_line("From", email.from_email),
        header_line("To", email.to),
        header_line("Subject", email.subject),
        header_line("Date", date),
        header_line("Message-ID", message_id(email, idempotency_key=idempotency_key)),
        *(header_line(name, value) for name, value in custom_headers(email.headers)),
        *(header_line(tag_header(name), value) for name, value in email.tags.items()),
    ]
    head = "".join(lines).replace("\r\n", linesep)
    return head.encode("ascii") + stdlib_body(email, linesep)


def stdlib_body(email: OutgoingEmail, linesep: str) -> bytes:
    container = EmailMessage(policy=BODY_POLICY)
    container.set_content(email.text, subtype="plain", charset="utf-8")
    container.add_alternative(email.html, subtype="html", charset="utf-8")
    seed = f"{email.reference}\n{email.text}\n{email.html}".encode("utf-8", "replace")
    container.set_boundary(f"=_{hashlib.sha256(seed).hexdigest()[:28]}")
    out = io.BytesIO()
    BytesGenerator(out, policy=BODY_POLICY.clone(linesep=linesep)).flatten(container)
    return out.getvalue()
