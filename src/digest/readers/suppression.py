"""An editor's suppress and unsuppress: stop mail to an address, or let it receive mail again.

The reason is required and goes into the audit log with the change (the caller writes the
entry in the same transaction). A complaint is never lifted here: a reader who marked an
issue as spam must subscribe again themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from digest.errors import Conflict, InvalidInput
from digest.models import Subscriber, SubscriberStatus
from digest.readers.subscriptions import SUPPRESSED, get_subscriber
from digest.text import one_line

MAX_REASON = 300


def clean_reason(raw: str) -> str:
    reason = one_line(raw or "")[:MAX_REASON].strip()
    if not reason:
        raise InvalidInput("reason", [("reason", "say why (it goes into the audit log)")])
    return reason


def suppress_by_editor(session: Session, subscriber_id: int, *, now: datetime) -> Subscriber:
    """No more mail to this address, whatever its status was (erased readers are gone already)."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.status == SubscriberStatus.ERASED:
        raise Conflict("this reader was erased; nothing is kept to suppress")
    if subscriber.status in SUPPRESSED:
        raise Conflict(f"this address is already suppressed ({subscriber.status})")
    subscriber.status = SubscriberStatus.SUPPRESSED
    subscriber.suppressed_at = now
    session.add(subscriber)
    return subscriber


def unsuppress_by_editor(session: Session, subscriber_id: int) -> Subscriber:
    """Mail may reach the address again: it returns to where the reader last stood (confirmed,
    unsubscribed or pending); the soft-bounce count starts afresh."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.status == SubscriberStatus.COMPLAINED:
        raise Conflict("this reader marked an issue as spam; only they can subscribe again")
    if subscriber.status not in SUPPRESSED:
        raise Conflict(f"this address is not suppressed ({subscriber.status})")
    subscriber.status = _standing(subscriber)
    subscriber.suppressed_at = None
    subscriber.soft_bounces = 0
    session.add(subscriber)
    return subscriber


def _standing(subscriber: Subscriber) -> SubscriberStatus:
    left = subscriber.unsubscribed_at
    if left is not None and (subscriber.confirmed_at is None or left >= subscriber.confirmed_at):
        return SubscriberStatus.UNSUBSCRIBED
    if subscriber.confirmed_at is not None:
        return SubscriberStatus.CONFIRMED
    return SubscriberStatus.PENDING
