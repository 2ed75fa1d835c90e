"""Shared setup for delivery tests: readers and a frozen issue written straight to the store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest import delivery
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import SendReport, claims
from digest.delivery.pacing import Pacer
from digest.delivery.retry import RetryPolicy
from digest.models import ConsentRoute, Issue, IssueStatus, Subscriber, SubscriberStatus
from digest.readers.subscriptions import email_hash
from digest.render.engine import marker
from digest.transports.base import Transport

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=3, base_seconds=0.01, cap_seconds=0.05)
HTML = (
    "<html><body><p>Hi</p><p>Verdicts &amp; more</p>"
    f'<a href="{marker("unsubscribe_url")}">Unsubscribe</a>'
    f'<a href="{marker("preferences_url")}">Preferences</a></body></html>'
)
TEXT = f"Hi\nVerdicts & more\nUnsubscribe: {marker('unsubscribe_url')}\n"


def add_readers(
    session: Session,
    count: int,
    *,
    start: int = 0,
    status: SubscriberStatus = SubscriberStatus.CONFIRMED,
) -> list[Subscriber]:
    readers = []
    for n in range(start, start + count):
        address = f"reader{n}@example.com"
        reader = Subscriber(
            email=address,
            email_hash=email_hash(address),
            name=f"Reader <{n}>",
            status=status,
            created_at=NOW,
            confirmed_at=NOW,
            consent_route=ConsentRoute.CLI,
            consent_at=NOW,
        )
        session.add(reader)
        readers.append(reader)
    session.flush()
    return readers


def frozen_issue(session: Session, *, number: int = 1) -> Issue:
    issue = Issue(
        number=number,
        period=f"2026-W{46 + number:02d}",
        status=IssueStatus.SENDING,
        subject=f"Issue #{number}: Ship or skip?",
        preheader="This week",
        html=HTML,
        text=TEXT,
        created_at=NOW,
        frozen_at=NOW,
    )
    session.add(issue)
    session.flush()
    return issue


def setup_send(engine: Engine, settings: Settings, readers: int) -> int:
    """`readers` confirmed readers and one frozen, enqueued issue; returns the issue id."""
    with session_scope(engine) as session:
        add_readers(session, readers)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, batch_size=settings.batch_size, now=NOW)
        assert issue.id is not None
        return issue.id


def run_send(
    engine: Engine,
    settings: Settings,
    issue_id: int,
    transport: Transport,
    *,
    workers: int = 2,
    rate: float = 1000.0,
    policy: RetryPolicy = FAST,
) -> SendReport:
    return delivery.send_issue(
        engine,
        settings,
        issue_id,
        transport=transport,
        pacer=Pacer(rate),
        workers=workers,
        now=NOW,
        policy=policy,
    )
