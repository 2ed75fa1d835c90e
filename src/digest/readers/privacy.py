"""A reader's own data: the consent record, "download my data", and "erase me".

Erasure keeps only what stops us mailing the address again: the one-way hash, the status, and
whether it was suppressed. Everything a person could be recognised by is removed.

Export and erasure are reached only through a short-lived link emailed to the address on
request (`request_data_link`), never through the never-expiring footer links, which travel
with every forwarded issue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from digest import clicks, throttle
from digest.config import Settings
from digest.errors import Conflict
from digest.models import (
    ClickLink,
    Delivery,
    DeliveryMark,
    Issue,
    MessageKind,
    ReaderClick,
    Subscriber,
    SubscriberStatus,
    TransactionalMessage,
)
from digest.readers import defences, mail_queue, topics
from digest.readers.subscriptions import SUPPRESSED, clear_pending_consent, get_subscriber

DATA_LINK_LIMIT = 3  # data links per reader ...
DATA_LINK_WINDOW = timedelta(hours=1)  # ... per hour


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
        "topics": subscriber.pending_topics,
        "at": _iso(subscriber.pending_consent_at),
        "ip": subscriber.pending_consent_ip,
        "user_agent": subscriber.pending_consent_user_agent,
    }


def export_subscriber(session: Session, subscriber_id: int) -> dict[str, Any]:
    """ "Download my data": the reader's record and the issues we sent them."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.status == SubscriberStatus.ERASED:
        return {"status": "erased"}
    return {
        **export_data(subscriber),
        "topics": topics.export_topics(session, subscriber_id),
        "issues": history(session, subscriber_id),
        "click_consent_at": _iso(subscriber.click_consent_at),
        "clicks": reader_clicks(session, subscriber_id),
    }


def reader_clicks(session: Session, subscriber_id: int) -> list[dict[str, object]]:
    """The clicks kept because the reader consented (DIGEST_TRACK_CLICKS=consented)."""
    statement = (
        select(Issue.number, ClickLink.url, ReaderClick.at)
        .join(Issue, col(Issue.id) == col(ReaderClick.issue_id))
        .join(
            ClickLink,
            (col(ClickLink.issue_id) == col(ReaderClick.issue_id))
            & (col(ClickLink.link_id) == col(ReaderClick.link_id)),
        )
        .where(col(ReaderClick.subscriber_id) == subscriber_id)
        .order_by(col(ReaderClick.at))
    )
    return [
        {"issue": number, "link": url, "at": _iso(at)}
        for number, url, at in session.exec(statement).all()
    ]


def history(session: Session, subscriber_id: int) -> list[dict[str, object]]:
    """The issues sent to a reader, with what the provider said about each (for "my data")."""
    statement = (
        select(Issue.number, Delivery.id, Delivery.status, Delivery.finished_at)
        .join(Issue, col(Issue.id) == col(Delivery.issue_id))
        .where(col(Delivery.subscriber_id) == subscriber_id)
        .order_by(col(Issue.number))
    )
    return [
        {
            "issue": number,
            "status": str(status),
            "at": finished.isoformat() if finished else None,
            "events": marks_of(session, delivery_id) if delivery_id is not None else [],
        }
        for number, delivery_id, status, finished in session.exec(statement).all()
    ]


def marks_of(session: Session, delivery_id: int) -> list[str]:
    """What the provider said about one delivery: "bounced", "delivered", ..."""
    statement = select(DeliveryMark.event).where(col(DeliveryMark.delivery_id) == delivery_id)
    return sorted(session.exec(statement).all())


def erase_subscriber(session: Session, subscriber_id: int, *, now: datetime) -> Subscriber:
    """Remove personal data; keep the hash (and any suppression) so nobody re-adds the address."""
    subscriber = get_subscriber(session, subscriber_id)
    mail_queue.cancel_messages(session, subscriber_id)
    topics.store_choice(session, subscriber_id, topics.TopicChoice())
    # The greeting name frozen for an issue still being sent goes too (that copy goes ungreeted).
    session.execute(
        update(Delivery).where(col(Delivery.subscriber_id) == subscriber_id).values(name=None)
    )
    clicks.forget_reader_clicks(session, subscriber_id)
    subscriber.click_consent_at = None
    subscriber.email = None
    subscriber.name = None
    subscriber.consent_ip = None
    subscriber.consent_user_agent = None
    clear_pending_consent(subscriber)
    subscriber.status = SubscriberStatus.ERASED
    subscriber.erased_at = now
    session.add(subscriber)
    return subscriber


def request_data_link(
    session: Session, settings: Settings, subscriber_id: int, *, now: datetime
) -> TransactionalMessage:
    """Queue the email with a link to download or erase the reader's data, valid for
    DIGEST_DATA_LINK_MINUTES. Conflict if the reader is gone or asked too often."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.email is None or subscriber.status in SUPPRESSED | {SubscriberStatus.ERASED}:
        raise Conflict("we no longer send mail to this address")
    key = f"data-link:{subscriber_id}"
    if not throttle.allow(session, key, limit=DATA_LINK_LIMIT, window=DATA_LINK_WINDOW, now=now):
        raise Conflict(f"at most {DATA_LINK_LIMIT} such links an hour: look for the last one")
    if not defences.under_mail_cap(session, settings, now=now):
        raise Conflict("we cannot send mail just now; try again in an hour")
    return mail_queue.queue_message(session, subscriber, MessageKind.DATA, now=now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
