"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, and a faulty one."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # each message's bytes as they came over the wire
        self.envelopes: list[tuple[str, list[str]]] = []  # MAIL FROM and RCPT TOs of each
        self.sessions: list[object] = []  # the SMTP session (connection) of each message

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.raw.append(raw)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        self.sessions.append(session.peer)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


class FaultyInbox(Inbox):
    """An inbox that misbehaves at the `fail_at`-th MAIL FROM (1-based), counted over its life.

    "451": answers 451 (slow down); "drop": closes the connection; "stall": answers too late.
    Once `healed`, it accepts everything again (the state a retry later finds).
    """

    def __init__(self, fault: str, fail_at: int) -> None:
        super().__init__()
        self.fault, self.fail_at, self.mails, self.healed = fault, fail_at, 0, False

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.mails += 1
        if self.mails == self.fail_at and not self.healed:
            if self.fault == "drop":
                server.transport.close()
            elif self.fault == "stall":
                await asyncio.sleep(STALL_SECONDS)
            return "451 4.7.1 slow down"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


STALL_SECONDS = 3.0
FAULTS = ["451", "drop", "stall"]
