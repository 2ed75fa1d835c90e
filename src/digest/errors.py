"""Every error the domain raises on purpose; the edges (CLI, web) turn them into messages.

    DigestError                  base: .message is one clear line a person can act on
    ├── ConfigError              a setting is missing or unusable
    ├── InvalidInput             bad input; .problems lists (where, what) pairs
    ├── NotFound                 the thing asked for does not exist
    ├── Conflict                 the request contradicts what the store holds
    ├── TokenError               a token is forged, expired or for another purpose
    ├── NothingToSend            no new comparisons since the last issue
    ├── StoreUnavailable         the database stayed unreachable or read-only: run again later
    └── TransportError           the mail provider refused or could not be reached
        ├── QuotaExceeded        a daily/monthly quota: pause and resume later
        └── IdempotencyMismatch  the provider holds this batch's key with another payload

Nothing below `web/` raises HTTPException; nothing below `cli` calls sys.exit.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error the service raises deliberately."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(DigestError):
    """A setting is missing, malformed or unsafe for the chosen mode."""


class InvalidInput(DigestError):
    """Input failed validation. `problems` holds (location, problem) pairs, location first."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "; ".join(f"{where}: {what}" if where else what for where, what in problems)
        super().__init__(f"{source}: {lines}")


class NotFound(DigestError):
    """The requested record does not exist."""


class Conflict(DigestError):
    """The request contradicts the current state of the store."""


class TokenError(DigestError):
    """A token is forged, expired, malformed or issued for another purpose."""


class NothingToSend(DigestError):
    """There are no new comparisons since the last issue."""


class StoreUnavailable(DigestError):
    """The database was away (restarting, unreachable, read-only) for longer than we wait.

    Nothing was lost: whatever was not recorded is still leased or queued in the ledger.
    """


class TransportError(DigestError):
    """The transport failed. `retryable` tells the ledger whether to try again later."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class QuotaExceeded(TransportError):
    """The provider's daily or monthly quota is spent; the send pauses until later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class IdempotencyMismatch(TransportError):
    """The provider already holds this idempotency key with another payload (never retried).

    The ledger reads it as "an earlier attempt under this key went through" when it shrank the
    batch on purpose (someone unsubscribed between attempts); otherwise it is a failure.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
