"""DIGEST_WEB_SENDS_MAIL=off, on both engines: the web process only stores a signup; a separate
`digest worker` process acts on it and sends the confirmation (through the real Resend SDK to
the fake Resend server), and the link in that email confirms the reader on the web."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import session_scope
from digest.models import ReaderRequest, SubscriberStatus
from digest.readers import subscriptions
from tests.support.cli import digest_env, run_digest
from tests.support.live_server import live_server
from tests.support.readers import form_stamp
from tests.support.resend_server import FakeResend
from tests.support.settings import SECRET, make_test_settings

LINK = re.compile(r"https?://[^\s<>\"]+/confirm/[^\s<>\"]+")


def stored_requests(engine: Engine) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(ReaderRequest)).one())


def status_of(engine: Engine, email: str) -> str | None:
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, email)
        return None if found is None else str(found.status)


def test_the_worker_sends_the_confirmation_of_a_web_signup(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    with FakeResend() as fake:
        resend = {"transport": "resend", "resend_api_key": fake.api_key}
        web = make_test_settings(
            tmp_path, settings.database_url, web_sends_mail="off", resend_api_url=fake.url, **resend
        )
        with live_server(web) as base:
            form = {"email": "reader@example.com", "name": "", "form_stamp": form_stamp()}
            answer = httpx.post(f"{base}/subscribe", data=form, timeout=30)
            assert answer.status_code == 200 and "Check your inbox" in answer.text
            # The web process stored the request and left it for the worker.
            assert stored_requests(engine) == 1 and fake.recipients() == {}
            env = digest_env(
                tmp_path,
                settings.database_url,
                DIGEST_SECRET_KEY=SECRET,
                DIGEST_TRANSPORT="resend",
                RESEND_API_KEY=fake.api_key,
                RESEND_API_URL=fake.url,
            )
            worker = run_digest(["worker", "--once"], env, tmp_path)
            assert worker.returncode == 0, worker.stderr
            assert "readers: 1 request(s) acted on" in worker.stdout, worker.stdout
            assert stored_requests(engine) == 0
            assert fake.recipients() == {"reader@example.com": 1}
            body = fake.messages()[0].get_body(preferencelist=("plain",))
            assert body is not None
            link = LINK.search(body.get_content())
            assert link is not None, body.get_content()
            assert status_of(engine, "reader@example.com") == SubscriberStatus.PENDING
            confirmed = httpx.post(f"{base}{urlsplit(link.group()).path}", timeout=30)
            assert confirmed.status_code == 200, confirmed.text[:300]
    assert status_of(engine, "reader@example.com") == SubscriberStatus.CONFIRMED
