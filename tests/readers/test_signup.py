"""The public subscribe request, over real HTTP: what an anonymous visitor can and cannot change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, Subscriber, SubscriberStatus
from digest.readers import subscriptions
from digest.tokens import Purpose, make_token
from tests.support.live_server import live_server
from tests.support.readers import NOW, add, form_stamp, load, wait_for_requests
from tests.support.settings import SECRET, make_test_settings


@pytest.fixture
def base_url(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[str]:
    with live_server(make_test_settings(tmp_path, settings.database_url)) as url:
        yield url


def test_anonymous_subscribe_does_not_rewrite_name_or_consent(
    base_url: str, engine: Engine
) -> None:
    """An anonymous request for a known address changes its name and consent only once the owner confirms."""
    reader = add(engine, "victim@example.com", now=NOW)
    with session_scope(engine) as session:
        stored = session.get(Subscriber, reader)
        assert stored is not None
        stored.name = "Vic"
        session.add(stored)
    for address in ("victim@example.com", "someone-new@example.com"):
        answer = httpx.post(
            f"{base_url}/subscribe",
            json={"email": address, "name": "Mallory", "form_stamp": form_stamp()},
            headers={"User-Agent": "Evil/1"},
        )
        assert answer.status_code == 202
        assert answer.json()["message"].startswith("If that address")
    wait_for_requests(engine)
    before = load(engine, reader)
    assert before is not None and before.name == "Vic"
    assert before.consent_route == ConsentRoute.FORM and before.consent_user_agent != "Evil/1"
    fingerprint = subscriptions.email_hash("victim@example.com")
    token = make_token(
        SECRET, Purpose.CONFIRM, reader, email_hash=fingerprint, now=datetime.now(UTC)
    )
    assert httpx.post(f"{base_url}/confirm/{token}").status_code == 200
    after = load(engine, reader)
    assert after is not None and after.status == SubscriberStatus.CONFIRMED
    # the owner confirmed that request: now it is the record
    assert after.name == "Mallory" and after.consent_user_agent == "Evil/1"
    assert after.consent_route == ConsentRoute.API and after.pending_consent_at is None
