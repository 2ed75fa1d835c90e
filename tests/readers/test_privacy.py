"""A reader's own data: erasure keeps only the fingerprint that stops us mailing again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest.db import session_scope
from digest.errors import Conflict
from digest.models import ConsentRoute, SubscriberStatus
from digest.readers import privacy, subscriptions
from tests.support.readers import NOW, add, load, subscribe_now
from tests.support.settings import make_test_settings


def test_erased_fingerprint_survives_resubscribe_and_purge(engine: Engine, tmp_path: Path) -> None:
    """An erased reader who subscribes again but never confirms goes back to a tombstone: the fingerprint survives the purge."""
    first = add(engine, "erased@example.com", confirmed=True)
    with session_scope(engine) as session:
        privacy.erase_subscriber(session, first, now=NOW)
    with session_scope(engine) as session:
        from digest.readers import signup

        request = signup.SignupRequest(
            email="erased@example.com",
            name=None,
            route=ConsentRoute.API,
            ip="203.0.113.9",
            user_agent="x",
            honeypot=None,
            form_stamp=None,
        )
        settings = make_test_settings(tmp_path, str(engine.url), subscribe_min_seconds=0)
        result = subscribe_now(session, settings, request, now=NOW + timedelta(days=1))
        assert result.held is not None
    stored = load(engine, first)
    assert stored is not None and stored.status == SubscriberStatus.PENDING
    with session_scope(engine) as session:
        subscriptions.purge_unconfirmed(
            session, now=NOW + timedelta(days=90), older_than=timedelta(days=30)
        )
    tomb = load(engine, first)
    assert tomb is not None and tomb.status == SubscriberStatus.ERASED
    assert tomb.email is None and tomb.consent_ip is None
    with session_scope(engine) as session, pytest.raises(Conflict):
        subscriptions.add_subscriber(
            session, "erased@example.com", confirmed=True, route=ConsentRoute.IMPORT, now=NOW
        )
