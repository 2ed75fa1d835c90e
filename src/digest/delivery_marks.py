"""Provider events about issue deliveries: mark the ledger's delivery, find whom it concerns.

The ledger (delivery.py, models/deliveries.py) records what we sent and the provider's email id;
the marks record what happened to it afterwards, matched on that id (Resend's `data.email_id`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digest.models.deliveries import Delivery
from digest.models.events import DeliveryMark
from digest.models.issues import Issue


def mark_delivery(
    session: Session, email_id: str | None, *, event_type: str, detail: str, now: datetime
) -> int:
    """Record the event on every delivery with this email id; return how many were marked."""
    if not email_id:
        return 0
    name = event_type.removeprefix("email.")[:30]
    marked = 0
    for delivery_id in _deliveries(session, email_id):
        try:
            with session.begin_nested():
                session.add(
                    DeliveryMark(delivery_id=delivery_id, event=name, detail=detail or None, at=now)
                )
                session.flush()
            marked += 1
        except IntegrityError:
            continue  # the same outcome under another event id: already marked
    return marked


def subscribers_for(session: Session, email_id: str | None) -> list[int]:
    if not email_id:
        return []
    statement = select(Delivery.subscriber_id).where(col(Delivery.provider_id) == email_id)
    return list(session.exec(statement).all())


def marks_of(session: Session, delivery_id: int) -> list[str]:
    statement = select(DeliveryMark.event).where(col(DeliveryMark.delivery_id) == delivery_id)
    return sorted(session.exec(statement).all())


def _deliveries(session: Session, email_id: str) -> list[int]:
    statement = select(Delivery.id).where(col(Delivery.provider_id) == email_id)
    return [delivery_id for delivery_id in session.exec(statement).all() if delivery_id is not None]


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
