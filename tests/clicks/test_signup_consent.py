"""DIGEST_TRACK_CLICKS=consented: the subscribe form offers an unticked box; ticking it is
applied, like the rest of the request, only when the mailbox owner confirms."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.db import session_scope
from digest.models import Subscriber
from digest.readers import subscriptions
from digest.tokens import Purpose, make_token
from tests.support.live_server import live_server
from tests.support.readers import form_stamp, load, wait_for_requests
from tests.support.settings import SECRET, make_test_settings


def test_the_box_is_unticked_and_counts_once_confirmed(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_test_settings(tmp_path, database_url, track_clicks="consented")
    with live_server(settings) as base:
        page = httpx.get(f"{base}/")
        assert 'name="click_consent" value="on">' in page.text  # offered, not ticked
        for address, ticked in (("yes@example.com", True), ("no@example.com", False)):
            fields = {"email": address, "form_stamp": form_stamp()}
            if ticked:
                fields["click_consent"] = "on"
            assert httpx.post(f"{base}/subscribe", data=fields).status_code == 200
        wait_for_requests(engine)
        with session_scope(engine, read_only=True) as session:
            ids = {s.email or "": s.id for s in session.exec(select(Subscriber))}
        for email, reader in ids.items():
            assert reader is not None
            pending = load(engine, reader)
            assert pending is not None and pending.click_consent_at is None  # not before confirming
            fingerprint = subscriptions.email_hash(email)
            token = make_token(
                SECRET, Purpose.CONFIRM, reader, email_hash=fingerprint, now=datetime.now(UTC)
            )
            assert httpx.post(f"{base}/confirm/{token}").status_code == 200
    yes, no = load(engine, ids["yes@example.com"] or 0), load(engine, ids["no@example.com"] or 0)
    assert yes is not None and yes.click_consent_at is not None
    assert no is not None and no.click_consent_at is None


def test_no_box_unless_consented_mode(engine: Engine, tmp_path: Path, database_url: str) -> None:
    settings = make_test_settings(tmp_path, database_url)
    with live_server(settings) as base:
        assert "click_consent" not in httpx.get(f"{base}/").text
