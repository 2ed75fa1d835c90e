"""Read what the outbox transport wrote: one .eml per message, parsed with the standard library."""

from __future__ import annotations

import email
import re
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

URL = re.compile(r"https?://[^\s<>\"]+")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]

    def link(self, path_prefix: str) -> str:
        """The first link in the text part whose path starts with `path_prefix`."""
        for url in URL.findall(self.text):
            if f"/{path_prefix.strip('/')}/" in url:
                return url
        raise AssertionError(f"no {path_prefix} link in: {self.text}")


def read_mail(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return Mail(
        to=str(message["To"]),
        subject=str(message["Subject"]),
        text=text.get_content() if text else "",
        html=html.get_content() if html else "",
        headers={key: str(value) for key, value in message.items()},
    )


def outbox_mail(outbox: Path) -> list[Mail]:
    if not outbox.exists():
        return []
    return [read_mail(path) for path in sorted(outbox.glob("*.eml"))]


def wait_for_mail(outbox: Path, count: int = 1, *, to: str | None = None, timeout: float = 10):
    """Mail in the outbox (optionally only to `to`) once there are at least `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in outbox_mail(outbox) if to is None or m.to == to]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
