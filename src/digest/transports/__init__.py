"""Ways of sending mail; `make_transport(settings)` picks the configured one."""

from __future__ import annotations

from digest.config import Settings, TransportName
from digest.errors import ConfigError
from digest.transports.base import OutgoingEmail, SendResult, Transport
from digest.transports.outbox import OutboxTransport

__all__ = ["OutboxTransport", "OutgoingEmail", "SendResult", "Transport", "make_transport"]


def make_transport(settings: Settings) -> Transport:
    """The transport DIGEST_TRANSPORT names, configured from settings."""
    if settings.transport is TransportName.OUTBOX:
        return OutboxTransport(settings.outbox_dir)
    raise ConfigError(
        f"DIGEST_TRANSPORT={settings.transport.value} is not available yet; use outbox"
    )
