"""The RFC 5322 message (multipart/alternative: text, then HTML) that SMTP and the outbox send."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from digest.transports.base import OutgoingEmail

TAG_HEADER_PREFIX = "X-Digest-Tag-"


def message_id(email: OutgoingEmail) -> str:
    """A Message-ID that is the same every time the same message is built."""
    domain = parseaddr(email.from_email)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(email.reference.encode()).hexdigest()[:24]
    return f"<{digest}.{_safe(email.reference)}@{domain}>"


def build_mime(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = email.from_email
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(email)
    for name, value in email.headers.items():
        message[name] = value
    for name, value in email.tags.items():
        message[f"{TAG_HEADER_PREFIX}{_safe(name)}"] = value
    message.set_content(email.text, subtype="plain", charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message


def _safe(value: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in value)[:80]
