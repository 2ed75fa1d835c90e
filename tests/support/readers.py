"""Readers written straight to the store, and read back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from digest.db import session_scope
from digest.models import ConsentRoute, Subscriber
from digest.readers import subscriptions

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def add(engine: Engine, email: str, *, now: datetime = NOW, confirmed: bool = False) -> int:
    """A reader who came through the form; returns their id."""
    with session_scope(engine) as session:
        subscriber = subscriptions.add_subscriber(
            session, email, confirmed=confirmed, route=ConsentRoute.FORM, now=now
        )
        return subscriber.id or 0


def load(engine: Engine, subscriber_id: int) -> Subscriber | None:
    with session_scope(engine, read_only=True) as session:
        return session.get(Subscriber, subscriber_id)
