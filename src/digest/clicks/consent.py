"""A reader's consent to per-reader click records (DIGEST_TRACK_CLICKS=consented): given by
ticking an unticked box, withdrawn at once, and withdrawing deletes the clicks already kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col

from digest.errors import NotFound
from digest.models import ReaderClick, Subscriber


def set_click_consent(
    session: Session, subscriber_id: int, *, consent: bool, now: datetime
) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound("no such reader")
    if consent:
        subscriber.click_consent_at = subscriber.click_consent_at or now
    else:
        subscriber.click_consent_at = None
        forget_reader_clicks(session, subscriber_id)
    session.add(subscriber)
    return subscriber


def forget_reader_clicks(session: Session, subscriber_id: int) -> int:
    """Delete every click kept for this reader, past issues included; return how many."""
    result = session.execute(
        delete(ReaderClick).where(col(ReaderClick.subscriber_id) == subscriber_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)
