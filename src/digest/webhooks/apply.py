"""Apply a provider's delivery event once: mark the issue's delivery, suppress the reader.

Works on our own `DeliveryEvent`, whatever provider sent it. Each event id is stored before it
is applied (unique in the database), so a provider's retry, or the same event from two
processes, changes nothing the second time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

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


def apply_event(session: Session, event: DeliveryEvent, *, now: datetime) -> str:
    """Apply the event once (by its id); return what was done, for the log and the answer."""
    record = WebhookEvent(
        svix_id=event.event_id,
        event_type=event.raw_type,
        provider_email_id=event.email_id,
        outcome="received",
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        return "duplicate: already applied"
    record.outcome = _apply_known_event(session, event, now=now)
    session.add(record)
    return record.outcome


def _apply_known_event(session: Session, event: DeliveryEvent, *, now: datetime) -> str:
    if event.type not in MARKING:
        return "ignored: not an event we use"
    marked = mark_delivery(session, event.email_id, event=event.type, detail=event.detail, now=now)
    status = SUPPRESSING.get(event.type)
    if status is None or (status is SubscriberStatus.BOUNCED and not event.permanent):
        return f"recorded ({marked} deliveries marked)"
    suppressed = 0
    for subscriber_id in _subscribers_of(session, event):
        subscriptions.suppress_subscriber(session, subscriber_id, status=status, now=now)
        suppressed += 1
    return f"suppressed {suppressed} subscriber(s), {marked} deliveries marked"


def _subscribers_of(session: Session, event: DeliveryEvent) -> set[int]:
    """Whom the event is about: by the provider's email id (issue or transactional mail),
    else by the recipient address."""
    found = set(subscribers_for(session, event.email_id))
    if event.email_id:
        found.update(
            session.exec(
                select(TransactionalMessage.subscriber_id).where(
                    col(TransactionalMessage.provider_id) == event.email_id
                )
            ).all()
        )
    if not found:
        for address in event.recipients:
            subscriber = _by_address(session, address)
            if subscriber is not None and subscriber.id is not None:
                found.add(subscriber.id)
    return found


def _by_address(session: Session, address: str) -> Subscriber | None:
    try:
        return subscriptions.find_by_email(session, address)
    except InvalidInput:
        return None


def mark_delivery(
    session: Session, email_id: str | None, *, event: EventType, detail: str, now: datetime
) -> int:
    """Record the event on every delivery with this email id; return how many were marked."""
    if not email_id:
        return 0
    marked = 0
    for delivery_id in _deliveries(session, email_id):
        try:
            with session.begin_nested():
                session.add(
                    DeliveryMark(
                        delivery_id=delivery_id, event=event.value, detail=detail or None, at=now
                    )
                )
                session.flush()
            marked += 1
        except IntegrityError:
            continue  # the same outcome under another event id: already marked
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
