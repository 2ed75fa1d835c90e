"""Apply a provider's delivery event once: mark the issue's delivery, suppress the reader.

Works on our own `DeliveryEvent`, whatever provider sent it. Each event id is stored before it
is applied (unique in the database), so a provider's retry, or the same event from two
processes, changes nothing the second time.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from digest import clicks
from digest.delivery import breaker
from digest.errors import InvalidInput
from digest.models import (
    Delivery,
    DeliveryMark,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
    WebhookEvent,
)
from digest.readers import subscriptions
from digest.webhooks.events import DeliveryEvent, EventType

SUPPRESSING = {
    EventType.BOUNCED: SubscriberStatus.BOUNCED,
    EventType.COMPLAINED: SubscriberStatus.COMPLAINED,
}
MARKING = frozenset({EventType.DELIVERED, EventType.BOUNCED, EventType.COMPLAINED})
# The provider's engagement events become counts per issue (clicks/provider.py): which reader
# opened or clicked is not kept, whatever the provider sends.
ENGAGEMENT = frozenset({EventType.OPENED, EventType.CLICKED})
SOFT_LIMIT = 3  # DIGEST_BOUNCE_SOFT_LIMIT's default
ISSUE_REFERENCE = re.compile(r"i(\d{1,18})-s(\d{1,18})")  # delivery.claims.Recipient.reference


def apply_event(
    session: Session, event: DeliveryEvent, *, now: datetime, soft_limit: int = SOFT_LIMIT
) -> str:
    """Apply the event once (by its id); return what was done, for the log and the answer.

    Hard bounces and complaints suppress the reader; soft bounces are counted, once per
    message, and suppress at `soft_limit` (DIGEST_BOUNCE_SOFT_LIMIT); delivered resets the
    count. Both edges call this: the Resend webhook and the SMTP bounce receiver."""
    claimed = insert_once(
        session,
        WebhookEvent,
        svix_id=event.event_id,
        event_type=event.raw_type,
        provider_email_id=event.email_id,
        outcome="received",
        received_at=now,
    )
    if not claimed:
        return "duplicate: already applied"
    outcome = _apply_known_event(session, event, now=now, soft_limit=soft_limit)[:200]
    session.execute(
        update(WebhookEvent)
        .where(col(WebhookEvent.svix_id) == event.event_id)
        .values(outcome=outcome)
    )
    return outcome


def insert_once(session: Session, model: type[SQLModel], **values: object) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True if this call stored the row. One statement and
    no savepoint; a concurrent insert of the same key waits for the other and then does
    nothing (PostgreSQL), or is serialised by BEGIN IMMEDIATE (SQLite)."""
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = build(table).values(**values).on_conflict_do_nothing()
    key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(key)).first() is not None


def _apply_known_event(
    session: Session, event: DeliveryEvent, *, now: datetime, soft_limit: int
) -> str:
    if event.type in ENGAGEMENT:
        issues = _issues_of(session, _deliveries_of(session, event))
        for issue_id in issues:
            clicks.count_provider_event(session, issue_id, event.type.value)
        return f"counted for {len(issues)} issue(s)"
    if event.type not in MARKING:
        return "ignored: not an event we use"
    deliveries = _deliveries_of(session, event)
    marked = mark_deliveries(session, deliveries, event=event.type, detail=event.detail, now=now)
    if marked and (event.type is EventType.COMPLAINED or event.permanent):
        _note_for_breaker(session, deliveries, complaint=event.type is EventType.COMPLAINED)
    readers = _subscribers_of(session, event, deliveries)
    if event.type is EventType.DELIVERED:
        _reset_soft_bounces(session, readers)
        return f"recorded ({marked} deliveries marked)"
    status = SUPPRESSING[event.type]
    if status is SubscriberStatus.BOUNCED and not event.permanent:
        # Counted once per message: a second soft bounce for a delivery already marked
        # (a replay under another id) changes nothing.
        if deliveries and not marked:
            return "recorded (this message's soft bounce was already counted)"
        limited = _count_soft_bounce(session, readers, limit=soft_limit, now=now)
        return f"soft bounce recorded ({marked} deliveries marked, {limited} suppressed)"
    for subscriber_id in readers:
        subscriptions.suppress_subscriber(session, subscriber_id, status=status, now=now)
    return f"suppressed {len(readers)} subscriber(s), {marked} deliveries marked"


def _deliveries_of(session: Session, event: DeliveryEvent) -> list[int]:
    """The issue deliveries the event is about: by provider email id, or by our reference."""
    found = _deliveries(session, event.email_id) if event.email_id else []
    match = ISSUE_REFERENCE.fullmatch(event.reference or "")
    if match is not None:
        statement = select(Delivery.id).where(
            col(Delivery.issue_id) == int(match.group(1)),
            col(Delivery.subscriber_id) == int(match.group(2)),
        )
        found.extend(i for i in session.exec(statement).all() if i is not None)
    return sorted(set(found))


def _note_for_breaker(session: Session, deliveries: list[int], *, complaint: bool) -> None:
    """The send's circuit breaker counts hard bounces and complaints as they come in."""
    for issue_id in _issues_of(session, deliveries):
        breaker.note(
            session, issue_id, hard_bounces=0 if complaint else 1, complaints=int(complaint)
        )


def _issues_of(session: Session, deliveries: list[int]) -> list[int]:
    if not deliveries:
        return []
    statement = select(Delivery.issue_id).where(col(Delivery.id).in_(deliveries)).distinct()
    return sorted(session.exec(statement).all())


def _subscribers_of(session: Session, event: DeliveryEvent, deliveries: list[int]) -> set[int]:
    """Whom the event is about: the readers of those deliveries, of the transactional mail with
    this provider id or reference, else (no message known) the recipient address."""
    found: set[int] = set()
    if deliveries:
        statement = select(Delivery.subscriber_id).where(col(Delivery.id).in_(deliveries))
        found.update(session.exec(statement).all())
    for column, value in (
        (TransactionalMessage.provider_id, event.email_id),
        (TransactionalMessage.reference, event.reference),
    ):
        if value:
            statement = select(TransactionalMessage.subscriber_id).where(col(column) == value)
            found.update(session.exec(statement).all())
    if not found:
        for address in event.recipients:
            subscriber = _by_address(session, address)
            if subscriber is not None and subscriber.id is not None:
                found.add(subscriber.id)
    return found


def _reset_soft_bounces(session: Session, readers: set[int]) -> None:
    if readers:
        session.execute(
            update(Subscriber)
            .where(col(Subscriber.id).in_(readers), col(Subscriber.soft_bounces) > 0)
            .values(soft_bounces=0)
        )


def _count_soft_bounce(session: Session, readers: set[int], *, limit: int, now: datetime) -> int:
    """One more soft bounce for each reader; those at `limit` are suppressed as bounced."""
    if not readers:
        return 0
    session.execute(
        update(Subscriber)
        .where(col(Subscriber.id).in_(readers))
        .values(soft_bounces=col(Subscriber.soft_bounces) + 1)
    )
    over = select(Subscriber.id).where(
        col(Subscriber.id).in_(readers),
        col(Subscriber.soft_bounces) >= limit,
        col(Subscriber.suppressed_at).is_(None),
    )
    ids = [i for i in session.exec(over).all() if i is not None]
    for subscriber_id in ids:
        subscriptions.suppress_subscriber(
            session, subscriber_id, status=SubscriberStatus.BOUNCED, now=now
        )
    return len(ids)


def _by_address(session: Session, address: str) -> Subscriber | None:
    try:
        return subscriptions.find_by_email(session, address)
    except InvalidInput:
        return None


def mark_deliveries(
    session: Session, deliveries: list[int], *, event: EventType, detail: str, now: datetime
) -> int:
    """Record the event on each delivery (once per delivery and event); return how many new."""
    marked = 0
    for delivery_id in deliveries:  # the same outcome under another event id marks nothing
        marked += insert_once(
            session,
            DeliveryMark,
            delivery_id=delivery_id,
            event=event.value,
            detail=detail or None,
            at=now,
        )
    return marked


def subscribers_for(session: Session, email_id: str | None) -> list[int]:
    """The readers of the issue deliveries the provider knows by this email id."""
    if not email_id:
        return []
    statement = select(Delivery.subscriber_id).where(col(Delivery.provider_id) == email_id)
    return list(session.exec(statement).all())


def _deliveries(session: Session, email_id: str) -> list[int]:
    statement = select(Delivery.id).where(col(Delivery.provider_id) == email_id)
    return [delivery_id for delivery_id in session.exec(statement).all() if delivery_id is not None]
