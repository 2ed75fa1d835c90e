"""Retry decisions and client-side pacing, with a fake clock (no sleeping)."""

from __future__ import annotations

import random

import pytest

from digest.delivery.pacing import Pacer, parse_policy
from digest.delivery.retry import Action, RetryPolicy
from digest.errors import IdempotencyMismatch, QuotaExceeded, TransportError
from tests.support.clocks import FakeClock

POLICY = RetryPolicy(max_attempts=4, base_seconds=2, cap_seconds=10)


def decide(
    exc: TransportError, attempts: int = 0, shrunk: bool = False
) -> tuple[Action, float, bool]:
    d = POLICY.decide(exc, attempts=attempts, shrunk=shrunk, rng=random.Random(1))
    return d.action, d.delay, d.counts


def test_rate_limits_wait_the_given_time_without_using_up_attempts() -> None:
    assert decide(TransportError("429", retryable=True, retry_after=7), attempts=3) == (
        Action.RETRY,
        7,
        False,
    )


def test_server_errors_back_off_exponentially_with_jitter_then_count_as_an_outage() -> None:
    delays = [decide(TransportError("503", retryable=True), attempts=n)[1] for n in range(3)]
    assert 1 <= delays[0] <= 2 and 2 <= delays[1] <= 4 and 4 <= delays[2] <= 8
    # An outage is the provider's, not the batch's: the issue pauses, nobody fails for it.
    assert decide(TransportError("503", retryable=True), attempts=3) == (Action.OUTAGE, 0, True)


def test_readers_refused_for_now_are_resent_minutes_later_within_the_cap() -> None:
    rng = random.Random(3)
    first, later = POLICY.refused_backoff(1, rng), RetryPolicy().refused_backoff(1, rng)
    assert 5 <= first <= 10 and 150 <= later <= 300


def test_backoff_is_capped() -> None:
    assert all(5 <= POLICY.backoff(30, random.Random(n)) <= 10 for n in range(50))


def test_client_errors_fail_at_once_quota_pauses_mismatch_depends_on_shrinking() -> None:
    assert decide(TransportError("422", retryable=False))[0] is Action.FAIL
    assert decide(QuotaExceeded("daily quota"))[0] is Action.PAUSE
    assert decide(IdempotencyMismatch("409"))[0] is Action.FAIL
    assert decide(IdempotencyMismatch("409"), shrunk=True)[0] is Action.SENT_EARLIER


def test_the_pacer_spaces_requests_at_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(4, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(5):
        pacer.acquire()
        starts.append(clock.now)
    assert starts == pytest.approx([100, 100.25, 100.5, 100.75, 101])


def test_the_provider_policy_lowers_the_rate_and_retry_after_holds() -> None:
    clock = FakeClock()
    pacer = Pacer(100, clock=clock, sleep=clock.sleep)
    pacer.observe({"RateLimit-Policy": "2;w=1", "ratelimit-limit": "2"})
    pacer.acquire()
    pacer.acquire()
    assert clock.now == pytest.approx(100.5)
    pacer.observe({"retry-after": "3"})
    pacer.acquire()
    assert clock.now == pytest.approx(103.5)
    pacer.observe({"ratelimit-policy": "1000;w=1"})  # never above DIGEST_RATE_LIMIT
    assert pacer.rate == 100


@pytest.mark.parametrize(
    ("value", "rate"),
    [("2;w=1", 2.0), ("120;w=60", 2.0), ("5", 5.0), ("", None), ("x;w=1", None), ("2;w=0", None)],
)
def test_parse_policy(value: str, rate: float | None) -> None:
    assert parse_policy(value) == rate
