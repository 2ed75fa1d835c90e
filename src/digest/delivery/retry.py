"""What to do after a failed batch attempt: retry when, fail, pause, or accept an earlier send."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from digest.errors import IdempotencyMismatch, QuotaExceeded, TransportError


class Action(StrEnum):
    RETRY = "retry"  # put the batch back, due after `delay`
    FAIL = "fail"  # never retried: every recipient still queued fails with the reason
    PAUSE = "pause"  # quota spent: the issue pauses; the batch waits untouched
    # Retryable errors outlasted the attempts: the provider is down for everyone, not for this
    # batch. The issue pauses (the batch waits, attempts reset) and resumes later, never fails.
    OUTAGE = "outage"
    SENT_EARLIER = "sent_earlier"  # the first payload under this key went through


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0
    counts: bool = False  # whether this attempt counts toward the bound


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    refused_seconds: float = 300.0  # first resend of a reader refused for now (greylisting)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential, capped, with jitter over its upper half so workers do not stampede."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)

    def refused_backoff(self, attempt: int, rng: random.Random) -> float:
        """When to resend readers refused for now: greylisting wants minutes, not seconds."""
        ceiling = min(self.cap_seconds, self.refused_seconds * 2 ** max(0, attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)

    def decide(
        self, exc: TransportError, *, attempts: int, shrunk: bool, rng: random.Random
    ) -> Decision:
        """`attempts` counted before this one; `shrunk`: the batch lost recipients since."""
        if isinstance(exc, QuotaExceeded):
            return Decision(Action.PAUSE)
        if isinstance(exc, IdempotencyMismatch):
            return Decision(Action.SENT_EARLIER if shrunk else Action.FAIL)
        if exc.retryable and exc.retry_after is not None:
            # Rate limits and in-flight duplicates are the provider pacing us, not failures.
            return Decision(Action.RETRY, delay=exc.retry_after)
        if not exc.retryable:
            return Decision(Action.FAIL)
        if attempts + 1 >= self.max_attempts:
            return Decision(Action.OUTAGE, counts=True)
        return Decision(Action.RETRY, delay=self.backoff(attempts + 1, rng), counts=True)
