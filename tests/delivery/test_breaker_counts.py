"""The breaker's running totals: webhook hard bounces and complaints add to them once per
delivery and event (replays change nothing); soft bounces never do; the verdict waits for the
minimum sample."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.delivery import Breaker, claims
from digest.models import SendHealth
from digest.webhooks.apply import apply_event
from digest.webhooks.events import DeliveryEvent, EventType
from tests.support.ledger import NOW, add_readers, frozen_issue

LIMITS = Breaker(bounce_rate=0.02, complaint_rate=0.001, min_sample=100)


def event(n: str, kind: EventType, reference: str, *, permanent: bool = True) -> DeliveryEvent:
    return DeliveryEvent(
        event_id=f"evt_{n}",
        type=kind,
        raw_type=f"email.{kind.value}",
        email_id=None,
        recipients=(),
        permanent=permanent,
        detail="",
        reference=reference,
    )


def test_webhook_bounces_and_complaints_count_once(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        readers = add_readers(session, 3)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
        refs = [f"i{issue.id}-s{r.id}" for r in readers]
    now = datetime(2026, 11, 16, 9, tzinfo=UTC)
    with session_scope(engine) as session:
        apply_event(session, event("1", EventType.BOUNCED, refs[0]), now=now)
        apply_event(session, event("2", EventType.BOUNCED, refs[0]), now=now)  # same delivery
        apply_event(session, event("3", EventType.BOUNCED, refs[1], permanent=False), now=now)
        apply_event(session, event("4", EventType.COMPLAINED, refs[2]), now=now)
        apply_event(session, event("4", EventType.COMPLAINED, refs[2]), now=now)  # a replay
    with session_scope(engine, read_only=True) as session:
        health = session.get(SendHealth, issue.id)
    assert health is not None and (health.hard_bounces, health.complaints) == (1, 1)


def test_the_verdict_waits_for_the_sample() -> None:
    assert LIMITS.verdict(SendHealth(issue_id=1, accepted=99, hard_bounces=50)) is None
    tripped = LIMITS.verdict(SendHealth(issue_id=1, accepted=100, hard_bounces=3))
    assert tripped is not None and tripped.startswith("circuit breaker: hard bounces 3")
    assert LIMITS.verdict(SendHealth(issue_id=1, accepted=1000, hard_bounces=20)) is None
    complaints = LIMITS.verdict(SendHealth(issue_id=1, accepted=1000, complaints=2))
    assert complaints is not None and "complaints 2" in complaints
