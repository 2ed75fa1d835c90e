"""Read the outbox transport's folder back as parsed messages."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path


def read_outbox(directory: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(directory.glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages
