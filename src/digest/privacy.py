"""A reader's own data: the consent record, "download my data", and "erase me".

Erasure keeps only what stops us mailing the address again: the one-way hash, the status, and
whether it was suppressed. Everything a person could be recognised by is removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from digest import delivery_marks, outbound
from digest.models.subscribers import Subscriber, SubscriberStatus
from digest.subscriptions import clear_pending_consent, get_subscriber


def consent_record(subscriber: Subscriber) -> dict[str, Any]:
    """When, from where and by which route the reader agreed, and when they confirmed."""
    return {
        "route": str(subscriber.consent_route),
        "at": _iso(subscriber.consent_at),
        "ip": subscriber.consent_ip,
        "user_agent": subscriber.consent_user_agent,
        "confirmed_at": _iso(subscriber.confirmed_at),
    }


def export_data(subscriber: Subscriber) -> dict[str, Any]:
    """Everything we hold about the reader, as JSON-ready values."""
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": str(subscriber.status),
        "subscribed_at": _iso(subscriber.created_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "suppressed_at": _iso(subscriber.suppressed_at),
        "consent": consent_record(subscriber),
        "unconfirmed_request": _pending_request(subscriber),
    }


def _pending_request(subscriber: Subscriber) -> dict[str, Any] | None:
    """A signup for this address that nobody has confirmed yet (it changes nothing until then)."""
    if subscriber.pending_consent_at is None:
        return None
    return {
        "name": subscriber.pending_name,
        "route": subscriber.pending_consent_route and str(subscriber.pending_consent_route),
        "at": _iso(subscriber.pending_consent_at),
        "ip": subscriber.pending_consent_ip,
        "user_agent": subscriber.pending_consent_user_agent,
    }


def export_subscriber(session: Session, subscriber_id: int) -> dict[str, Any]:
    """ "Download my data": the reader's record and the issues we sent them."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.status == SubscriberStatus.ERASED:
        return {"status": "erased"}
    return {**export_data(subscriber), "issues": delivery_marks.history(session, subscriber_id)}


def erase_subscriber(session: Session, subscriber_id: int, *, now: datetime) -> Subscriber:
    """Remove personal data; keep the hash (and any suppression) so nobody re-adds the address."""
    subscriber = get_subscriber(session, subscriber_id)
    outbound.cancel_messages(session, subscriber_id)
    subscriber.email = None
    subscriber.name = None
    subscriber.consent_ip = None
    subscriber.consent_user_agent = None
    clear_pending_consent(subscriber)
    subscriber.status = SubscriberStatus.ERASED
    subscriber.erased_at = now
    session.add(subscriber)
    return subscriber


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
