"""The transport seam: one small Protocol every way of sending mail implements.

`send_batch` takes up to a batch of messages and one idempotency key fixed before the first
attempt and random per database (each message's Message-ID derives from it and the message's
reference: the same on every retry, never the same as another database's). A failure of the
whole call raises TransportError (with `retryable`); a failure of one recipient comes back in
that recipient's SendResult, so one bad address never blocks the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Sees the headers of every provider answer (the pacer adapts to rate-limit headers).
HeaderObserver = Callable[[Mapping[str, str]], None]


@dataclass(frozen=True)
class OutgoingEmail:
    """One fully rendered message. `reference` is ours, stable across retries (e.g. "i3-s42")."""

    reference: str
    to: str
    from_email: str
    subject: str
    html: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    # The bodies as pieces when the sender has them: frozen text (the same for every recipient
    # of the issue) at even positions, this recipient's values at odd ones, adding up to
    # `html` / `text`. SMTP and the outbox then encode the frozen text once (mime.py).
    html_parts: tuple[str, ...] = ()
    text_parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendResult:
    reference: str
    provider_id: str | None = None
    error: str | None = None
    permanent: bool = False  # with an error: True if retrying cannot help (e.g. invalid address)

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Transport(Protocol):
    name: str

    def send_batch(
        self, emails: Sequence[OutgoingEmail], *, idempotency_key: str
    ) -> list[SendResult]:
        """Send every email; return one result per email, in the same order."""
        ...

    def close(self) -> None:
        """Release connections; the transport is not used afterwards."""
        ...


@runtime_checkable
class Checkable(Protocol):
    def check(self) -> str:
        """Prove the transport can send (reach it, log in), sending nothing; say what was
        proven. Raises TransportError (or ConfigError) saying what failed."""
        ...
