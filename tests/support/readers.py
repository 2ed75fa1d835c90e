"""Readers written straight to the store, and read back."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, ReaderRequest, RequestKind, Subscriber
from digest.readers import defences, signup, subscriptions
from tests.support.settings import SECRET

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


def subscribe_now(
    session: Session, settings: Settings, request: signup.SignupRequest, *, now: datetime
) -> signup.SignupResult:
    """What POST /subscribe and the reader-work loop do, in one transaction (no stamp: the
    request comes as from a trusted proxy)."""
    trusted = dataclasses.replace(request, trusted=True)
    receipt = signup.receive_request(session, settings, trusted, RequestKind.SUBSCRIBE, now=now)
    assert receipt.stored, receipt.reason
    stored = session.exec(select(ReaderRequest).order_by(col(ReaderRequest.id).desc())).first()
    assert stored is not None
    return signup.act_on_request(session, settings, stored, now=now)


def wait_for_requests(engine: Engine, timeout: float = 20) -> None:
    """Until the server has acted on every stored reader request (it does so after answering)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine, read_only=True) as session:
            if session.exec(select(func.count()).select_from(ReaderRequest)).one() == 0:
                return
        time.sleep(0.02)
    raise AssertionError("the server did not act on the stored reader requests")


def form_stamp(seconds_ago: float = 5) -> str:
    """A stamp as the form would carry it, served `seconds_ago` (each one good once)."""
    served = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return defences.make_form_stamp(SECRET, now=served)
