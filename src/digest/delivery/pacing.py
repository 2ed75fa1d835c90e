"""Client-side pacing: at most DIGEST_RATE_LIMIT requests/s, slower when the provider says so.

Each request reserves the next free slot (one every 1/rate seconds) and sleeps until it, so
several workers share one rate. The provider's `ratelimit-policy` ("2;w=1") lowers the rate;
`retry-after` on a 429 (or remaining 0 with a reset) holds every worker until then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping


class Pacer:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.configured = rate
        self.rate = rate
        self.clock, self.sleep = clock, sleep
        self.next_free = 0.0
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for this request's slot; returns the seconds waited."""
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_free)
            self.next_free = slot + 1.0 / self.rate
        wait = slot - now
        if wait > 0:
            self.sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """No request starts in the next `seconds`."""
        with self.lock:
            self.next_free = max(self.next_free, self.clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to a provider answer's rate-limit headers."""
        lowered = {k.lower(): v for k, v in headers.items()}
        provider_rate = parse_policy(lowered.get("ratelimit-policy", ""))
        if provider_rate:
            with self.lock:
                self.rate = min(self.configured, provider_rate)
        wait = _number(lowered.get("retry-after"))
        if wait is None and lowered.get("ratelimit-remaining") == "0":
            wait = _number(lowered.get("ratelimit-reset"))
        if wait:
            self.hold(wait)


def parse_policy(value: str) -> float | None:
    """`"2;w=1"` -> 2.0 requests/s; None when absent or unreadable."""
    try:
        quota, *params = value.split(";")
        window = next(
            (float(p.split("=", 1)[1]) for p in params if p.strip().startswith("w=")), 1.0
        )
        rate = float(quota) / window
    except (ValueError, IndexError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
