"""Transport failures the ledger must tell apart from a plain TransportError."""

from __future__ import annotations

from digest.errors import TransportError


class IdempotencyMismatch(TransportError):
    """The provider already holds this idempotency key with another payload (never retried).

    The ledger reads it as "an earlier attempt under this key went through" when it shrank the
    batch on purpose (someone unsubscribed between attempts); otherwise it is a failure.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
