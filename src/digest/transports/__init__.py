"""Ways of sending mail: the I/O seam. `make_transport(settings)` builds the configured one.

    base.py     the Transport protocol, OutgoingEmail, SendResult, HeaderObserver; Checkable
    address.py  mailboxes on the wire: display name, address with an IDNA (punycode) domain
    headers.py  every header value we write: cleaned text, our own encoding and folding
    mime.py     the RFC 5322 message the SMTP and outbox transports write
    body_encoding.py  its body parts, encoded as the email package would, frozen text once per issue
    outbox.py   one .eml file per message (the embedded default)
    resend.py   Resend's batch API (the only module that imports the `resend` SDK)
    batch_json.py  its batch body: JSON with each issue's frozen text escaped once
    smtp.py     any SMTP server
    verp.py     the signed envelope sender (VERP) that makes a bounce name its message

Rule: transports are built at the composition roots (`create_app`, each CLI command, the
scheduler) and passed in; nothing in the domain calls `make_transport`. A composition root that
is about to change state for a send builds and checks its transport first (`check_transport`).
"""

from __future__ import annotations

from digest.config import Settings, TransportName
from digest.errors import ConfigError
from digest.transports.base import (
    Checkable,
    HeaderObserver,
    OutgoingEmail,
    SendResult,
    Transport,
)
from digest.transports.outbox import OutboxTransport

__all__ = [
    "Checkable",
    "HeaderObserver",
    "OutboxTransport",
    "OutgoingEmail",
    "SendResult",
    "Transport",
    "check_transport",
    "make_resend",
    "make_transport",
]


def make_transport(settings: Settings, *, observer: HeaderObserver | None = None) -> Transport:
    """The transport DIGEST_TRANSPORT names, configured from settings."""
    if settings.transport is TransportName.OUTBOX:
        return OutboxTransport(settings.outbox_dir)
    if settings.transport is TransportName.SMTP:
        from digest.transports.smtp import SmtpTransport
        from digest.transports.verp import envelope_sender

        return SmtpTransport(settings.smtp_url, envelope=envelope_sender(settings))
    return make_resend(settings, observer)


def make_resend(settings: Settings, observer: HeaderObserver | None = None) -> Transport:
    """Resend, with `observer` seeing every answer's headers (the pacer adapts to them)."""
    if settings.resend_api_key is None or not settings.resend_api_key.get_secret_value():
        raise ConfigError("DIGEST_TRANSPORT=resend needs RESEND_API_KEY")
    from digest.transports.resend import ResendTransport  # only this path imports the SDK

    return ResendTransport(
        api_key=settings.resend_api_key.get_secret_value(),
        api_url=settings.resend_api_url,
        pool=32,  # kept-alive connections; `--workers` may exceed DIGEST_SEND_WORKERS
        observer=observer,
    )


def check_transport(transport: Transport) -> str:
    """What the transport proved it can do (reached, logged in), sending nothing."""
    if isinstance(transport, Checkable):
        return transport.check()
    return f"{transport.name}: no check available"
