"""Shared setup for delivery tests: readers and a frozen issue written straight to the store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest import delivery
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import SendReport, claims
from digest.delivery.pacing import Pacer
from digest.delivery.retry import RetryPolicy
from digest.models import (
    ConsentRoute,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
    SubscriberTopic,
    Topic,
)
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
        claims.enqueue_issue(
            session, issue, settings=settings, batch_size=settings.batch_size, now=NOW
        )
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


def add_topic_readers(session: Session, choices: list[set[str] | None]) -> list[int]:
    """Confirmed readers reader0.. with these topic names chosen (None: every topic), written in
    bulk (10,000 take a second); returns their ids in order."""
    ids = {t.name: t.id for t in session.exec(select(Topic))}
    rows = [
        {
            "email": f"reader{n}@example.com",
            "email_hash": email_hash(f"reader{n}@example.com"),
            "name": f"Reader <{n}>" if n % 2 else None,
            "status": SubscriberStatus.CONFIRMED.value,
            "created_at": NOW,
            "confirmed_at": NOW,
            "consent_route": ConsentRoute.CLI.value,
            "consent_at": NOW,
        }
        for n in range(len(choices))
    ]
    session.execute(insert(Subscriber), rows)
    readers = list(session.exec(select(Subscriber.id).order_by(col(Subscriber.id))).all())
    chosen = [
        {"subscriber_id": reader, "topic_id": ids[name]}
        for reader, names in zip(readers, choices, strict=True)
        for name in sorted(names or ())
    ]
    if chosen:
        session.execute(insert(SubscriberTopic), chosen)
    return [int(reader) for reader in readers if reader is not None]
