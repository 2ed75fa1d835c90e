"""POST /webhooks/resend over real HTTP, signed with the real `svix` package, on both engines."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import select
from svix.webhooks import Webhook

from digest.config import Settings
from digest.db import session_scope
from digest.models import (
    Batch,
    BatchStatus,
    ConsentRoute,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    ProviderCount,
    Subscriber,
    SubscriberStatus,
)
from digest.readers import privacy, subscriptions
from tests.support.hostile import NASTY_JSON
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

SECRET = "whsec_" + base64.b64encode(b"webhook-secret-for-tests-0123456").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-secret-entirely-98765").decode()


@pytest.fixture
def hook_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(tmp_path, settings.database_url, RESEND_WEBHOOK_SECRET=SECRET)


@pytest.fixture
def base_url(hook_settings: Settings) -> Iterator[str]:
    with live_server(hook_settings) as url:
        yield url


@pytest.fixture
def reader(engine: Engine) -> tuple[int, int]:
    """A confirmed reader with one sent delivery whose provider id is "em_1"."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        subscriber = subscriptions.add_subscriber(
            session, "reader@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        issue = Issue(number=1, period="2026-W47", status=IssueStatus.SENT)
        session.add(issue)
        session.flush()
        batch = Batch(
            issue_id=issue.id or 0,
            number=0,
            idempotency_key="i1-b0",
            status=BatchStatus.DONE,
            next_attempt_at=now,
        )
        session.add(batch)
        session.flush()
        delivery = Delivery(
            issue_id=issue.id or 0,
            subscriber_id=subscriber.id or 0,
            batch_id=batch.id or 0,
            status=DeliveryStatus.SENT,
            provider_id="em_1",
        )
        session.add(delivery)
        session.flush()
        return subscriber.id or 0, delivery.id or 0


def event(kind: str, email_id: str = "em_1", **data: object) -> bytes:
    body = {
        "type": kind,
        "created_at": "2026-11-16T08:00:00.000Z",
        "data": {"email_id": email_id, "to": ["reader@example.com"], **data},
    }
    return json.dumps(body).encode()


def signed_headers(
    body: bytes, msg_id: str = "msg_1", *, secret: str = SECRET, when: datetime | None = None
) -> dict[str, str]:
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }


def post(base_url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base_url}/webhooks/resend", content=body, headers=headers, timeout=10)


def status_of(engine: Engine, subscriber_id: int) -> str:
    with session_scope(engine, read_only=True) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return str(subscriber.status)


def marks(engine: Engine, delivery_id: int) -> list[str]:
    with session_scope(engine, read_only=True) as session:
        return privacy.marks_of(session, delivery_id)


def events_stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM webhook_event")).scalar_one())


def test_hard_bounce_suppresses_for_good_and_marks_the_delivery(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    subscriber_id, delivery_id = reader
    body = event("email.bounced", bounce={"type": "Permanent", "subType": "General"})
    response = post(base_url, body, signed_headers(body))
    assert response.status_code == 200, response.text
    assert status_of(engine, subscriber_id) == SubscriberStatus.BOUNCED
    assert marks(engine, delivery_id) == ["bounced"]
    with session_scope(engine) as session, pytest.raises(Exception, match="bounced"):
        subscriptions.resubscribe_subscriber(session, subscriber_id, now=datetime.now(UTC))


def test_replay_is_applied_once(base_url: str, engine: Engine, reader: tuple[int, int]) -> None:
    subscriber_id, _ = reader
    body = event("email.complained")
    headers = signed_headers(body, "msg_replayed")
    first, second = post(base_url, body, headers), post(base_url, body, headers)
    assert first.status_code == second.status_code == 200
    assert "duplicate" in second.json()["outcome"]
    assert events_stored(engine) == 1
    assert status_of(engine, subscriber_id) == SubscriberStatus.COMPLAINED


def test_delivered_marks_the_delivery_only(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    subscriber_id, delivery_id = reader
    body = event("email.delivered")
    assert post(base_url, body, signed_headers(body)).status_code == 200
    assert marks(engine, delivery_id) == ["delivered"]
    assert status_of(engine, subscriber_id) == SubscriberStatus.CONFIRMED


def test_transient_bounce_does_not_suppress(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    subscriber_id, delivery_id = reader
    body = event("email.bounced", bounce={"type": "Transient", "subType": "MailboxFull"})
    assert post(base_url, body, signed_headers(body)).status_code == 200
    assert status_of(engine, subscriber_id) == SubscriberStatus.CONFIRMED
    assert marks(engine, delivery_id) == ["bounced"]


def test_unknown_events_are_ignored_with_200(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    body = event("email.delivery_delayed")
    response = post(base_url, body, signed_headers(body))
    assert response.status_code == 200 and "ignored" in response.json()["outcome"]
    assert status_of(engine, reader[0]) == SubscriberStatus.CONFIRMED


def test_one_good_signature_among_several_is_enough(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    body = event("email.complained")
    good = signed_headers(body)
    bad = signed_headers(body, secret=OTHER_SECRET)
    good["svix-signature"] = f"v1a,junk {bad['svix-signature']} {good['svix-signature']}"
    assert post(base_url, body, good).status_code == 200
    assert status_of(engine, reader[0]) == SubscriberStatus.COMPLAINED


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "tampered body", "stale", "future", "missing signature", "missing id", "junk"],
)
def test_bad_signatures_are_400_and_change_nothing(
    base_url: str, engine: Engine, reader: tuple[int, int], case: str
) -> None:
    body = event("email.complained")
    now = datetime.now(UTC)
    headers = {
        "wrong secret": lambda: signed_headers(body, secret=OTHER_SECRET),
        "stale": lambda: signed_headers(body, when=now - timedelta(minutes=6)),
        "future": lambda: signed_headers(body, when=now + timedelta(minutes=6)),
        "missing signature": lambda: {
            k: v for k, v in signed_headers(body).items() if k != "svix-signature"
        },
        "missing id": lambda: {k: v for k, v in signed_headers(body).items() if k != "svix-id"},
        "junk": lambda: {**signed_headers(body), "svix-signature": "v1,!!notbase64!!"},
        "tampered body": lambda: signed_headers(body),
    }[case]()
    sent = body.replace(b"reader@", b"someone@") if case == "tampered body" else body
    response = post(base_url, sent, headers)
    assert response.status_code == 400
    assert events_stored(engine) == 0
    assert status_of(engine, reader[0]) == SubscriberStatus.CONFIRMED


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type": "email.bounced"}', b"\xff"])
def test_malformed_but_signed_bodies_are_400(
    base_url: str, engine: Engine, reader: tuple[int, int], body: bytes
) -> None:
    headers = signed_headers(b"placeholder")
    headers["svix-signature"] = Webhook(SECRET).sign(
        "msg_1", datetime.fromtimestamp(int(headers["svix-timestamp"]), UTC), body.decode("latin-1")
    )
    if body == b"\xff":  # not UTF-8: sign the raw bytes the way Svix would
        headers = {**headers, "svix-signature": _raw_signature("msg_1", headers, body)}
    response = post(base_url, body, headers)
    assert response.status_code == 400
    assert events_stored(engine) == 0


def _raw_signature(msg_id: str, headers: dict[str, str], body: bytes) -> str:
    import hashlib
    import hmac

    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{msg_id}.{headers['svix-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_bounced_confirmation_mail_suppresses_by_address(base_url: str, engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        pending = subscriptions.add_subscriber(
            session, "typo@example.com", route=ConsentRoute.FORM, now=now
        )
    body = event("email.bounced", email_id="em_unknown", to=["typo@example.com"])
    assert post(base_url, body, signed_headers(body)).status_code == 200
    assert status_of(engine, pending.id or 0) == SubscriberStatus.BOUNCED


def test_unconfigured_secret_refuses_everything(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    with live_server(make_test_settings(tmp_path, settings.database_url)) as url:
        body = event("email.complained")
        assert post(url, body, signed_headers(body)).status_code == 503
    assert events_stored(engine) == 0


def test_my_data_lists_the_issues_sent_and_what_happened(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    body = event("email.delivered")
    assert post(base_url, body, signed_headers(body)).status_code == 200
    with session_scope(engine, read_only=True) as session:
        data = privacy.export_subscriber(session, reader[0])
    assert data["email"] == "reader@example.com"
    assert data["issues"] == [{"issue": 1, "status": "sent", "at": None, "events": ["delivered"]}]


@pytest.mark.parametrize("stamp", ["²", "١٢٣", "9" * 40])
def test_webhook_odd_timestamps_are_400(base_url: str, stamp: str) -> None:
    """Timestamps in digits int() refuses, or absurdly long, are a 400, never a 500."""
    headers = _signed(b"{}", stamp)
    answer = httpx.post(
        f"{base_url}/webhooks/resend",
        content=b"{}",
        headers={key.encode(): value.encode("utf-8") for key, value in headers.items()},
    )
    assert answer.status_code == 400


@pytest.mark.parametrize("body", NASTY_JSON)
def test_webhook_signed_nasty_json_is_400(base_url: str, body: bytes) -> None:
    headers = _signed(body, str(int(time.time())))
    answer = httpx.post(f"{base_url}/webhooks/resend", content=body, headers=headers)
    assert answer.status_code == 400


def _signed(body: bytes, stamp: str) -> dict[str, str]:
    """Signed by hand, so that the timestamp can be anything at all."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = b"msg_1." + stamp.encode("utf-8") + b"." + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"svix-id": "msg_1", "svix-timestamp": stamp, "svix-signature": f"v1,{signature}"}


@pytest.mark.parametrize(
    "data",
    [
        {"email_id": "em_\x00"},
        {"email_id": "em_1", "to": ["reader\x00@example.com"]},
        {"email_id": "em_1", "bounce": {"type": "Permanent", "message": "no\x00such user"}},
        {"email_id": "x" * 5000},
    ],
)
def test_signed_events_with_nul_or_huge_values_never_500(
    base_url: str, engine: Engine, reader: tuple[int, int], data: dict[str, object]
) -> None:
    """PostgreSQL refuses NUL in text: a signed event carrying one once answered 500."""
    body = json.dumps({"type": "email.bounced\x00", "data": data}).encode()
    answer = post(base_url, body, signed_headers(body))
    assert answer.status_code in (200, 400), answer.text
    assert status_of(engine, reader[0]) in (SubscriberStatus.CONFIRMED, SubscriberStatus.BOUNCED)


def test_provider_opens_and_clicks_are_counted_per_issue_not_per_reader(
    base_url: str, engine: Engine, reader: tuple[int, int]
) -> None:
    _, delivery_id = reader
    for n, kind in enumerate(["email.opened", "email.opened", "email.clicked"]):
        body = event(kind, click={"link": "https://site.test/x"})
        assert post(base_url, body, signed_headers(body, f"msg_e{n}")).status_code == 200
    replay = event("email.clicked")
    assert post(base_url, replay, signed_headers(replay, "msg_e2")).status_code == 200
    with session_scope(engine) as session:
        counts = {row.event: row.count for row in session.exec(select(ProviderCount))}
    assert counts == {"opened": 2, "clicked": 1}
    assert marks(engine, delivery_id) == []  # nothing kept about which reader it was
