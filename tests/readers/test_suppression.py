"""An editor's suppress and unsuppress, on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from digest.db import session_scope
from digest.errors import Conflict, InvalidInput
from digest.models import Subscriber, SubscriberStatus
from digest.readers import suppression
from tests.support.desk_data import NOW, reader


def _status(engine: Engine, subscriber_id: int) -> SubscriberStatus:
    with session_scope(engine, read_only=True) as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return SubscriberStatus(row.status)


def test_suppress_then_unsuppress_returns_to_confirmed(engine: Engine) -> None:
    with session_scope(engine) as session:
        subscriber_id = reader(session, 1, confirmed_at=NOW).id or 0
    with session_scope(engine) as session:
        suppression.suppress_by_editor(session, subscriber_id, now=NOW)
    assert _status(engine, subscriber_id) is SubscriberStatus.SUPPRESSED
    with session_scope(engine) as session, pytest.raises(Conflict):
        suppression.suppress_by_editor(session, subscriber_id, now=NOW)
    with session_scope(engine) as session:
        suppression.unsuppress_by_editor(session, subscriber_id)
    assert _status(engine, subscriber_id) is SubscriberStatus.CONFIRMED


def test_unsuppress_a_bounce_of_someone_who_had_left(engine: Engine) -> None:
    with session_scope(engine) as session:
        row = reader(
            session,
            2,
            status=SubscriberStatus.BOUNCED,
            confirmed_at=NOW,
            unsubscribed_at=NOW + timedelta(days=1),
        )
        row.soft_bounces = 3
        subscriber_id = row.id or 0
    with session_scope(engine) as session:
        again = suppression.unsuppress_by_editor(session, subscriber_id)
        assert (again.status, again.soft_bounces) == (SubscriberStatus.UNSUBSCRIBED, 0)


def test_complaints_and_unsuppressed_readers_are_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        complained = reader(session, 3, status=SubscriberStatus.COMPLAINED).id or 0
        fine = reader(session, 4, confirmed_at=NOW).id or 0
    for subscriber_id in (complained, fine):
        with session_scope(engine) as session, pytest.raises(Conflict):
            suppression.unsuppress_by_editor(session, subscriber_id)
    assert _status(engine, complained) is SubscriberStatus.COMPLAINED


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\n"])
def test_a_reason_is_required(raw: str) -> None:
    with pytest.raises(InvalidInput):
        suppression.clean_reason(raw)


def test_reason_is_one_line_and_bounded() -> None:
    assert suppression.clean_reason("asked\nby phone\u202e" + "x" * 400) == (
        "asked by phone" + "x" * 286
    )
