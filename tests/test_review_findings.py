"""Findings of the security / bad-input review, each reproduced over real HTTP or the real CLI."""

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
from sqlalchemy.engine import Engine

from digest import issues, privacy, subscriptions
from digest.config import Settings
from digest.db import session_scope
from digest.errors import ConfigError, Conflict, InvalidInput
from digest.models import ConsentRoute, Subscriber, SubscriberStatus
from digest.render import render_email
from digest.tokens import Purpose, make_token
from tests.conftest import SECRET, make_test_settings
from tests.helpers.issue_data import import_docs, week_of
from tests.helpers.live_server import live_server
from tests.test_catalog import SAMPLES

HOOK_SECRET = "whsec_" + base64.b64encode(b"webhook-secret-for-tests-0123456").decode()
PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def web_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(
        tmp_path,
        settings.database_url,
        RESEND_WEBHOOK_SECRET=HOOK_SECRET,
        api_token="api-token-for-tests",
        editor_password=PASSWORD,
    )


@pytest.fixture
def base_url(web_settings: Settings) -> Iterator[str]:
    with live_server(web_settings) as url:
        yield url


def add(engine: Engine, email: str, *, now: datetime = NOW, confirmed: bool = False) -> int:
    with session_scope(engine) as session:
        subscriber = subscriptions.add_subscriber(
            session, email, confirmed=confirmed, route=ConsentRoute.FORM, now=now
        )
        return subscriber.id or 0


def load(engine: Engine, subscriber_id: int) -> Subscriber | None:
    with session_scope(engine, read_only=True) as session:
        return session.get(Subscriber, subscriber_id)


# 1. An empty DIGEST_API_TOKEN (as in .env.example) disables the API; it is not "the empty token".


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_secrets_count_as_unset(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    for name in ("DIGEST_API_TOKEN", "DIGEST_EDITOR_PASSWORD", "RESEND_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, blank)
    blank_settings = make_test_settings(tmp_path, settings.database_url)
    assert blank_settings.api_token is None
    assert blank_settings.editor_password is None
    assert blank_settings.resend_webhook_secret is None


def test_empty_api_token_env_refuses_an_empty_bearer(
    tmp_path: Path, settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_API_TOKEN", "")
    with live_server(make_test_settings(tmp_path, settings.database_url)) as base:
        for header in ("Bearer", "bearer"):
            answer = httpx.post(
                f"{base}/api/comparisons",
                content=SAMPLES[0].read_bytes(),
                headers={"Authorization": header, "Content-Type": "application/json"},
                timeout=10,
            )
            assert answer.status_code == 401, header
            assert "disabled" in answer.json()["error"]


def test_empty_bearer_refused_when_a_token_is_set(base_url: str) -> None:
    answer = httpx.post(
        f"{base_url}/api/comparisons", content=b"{}", headers={"Authorization": "Bearer"}
    )
    assert answer.status_code == 401


# 5. An empty or short webhook key is a configuration error, named, at startup.


@pytest.mark.parametrize(
    "secret",
    ["whsec_", "whsec_" + base64.b64encode(b"short").decode(), "whsec_not base64!"],
)
def test_weak_webhook_secret_is_refused_at_startup(
    tmp_path: Path, settings: Settings, secret: str
) -> None:
    with pytest.raises(ConfigError, match="RESEND_WEBHOOK_SECRET"):
        make_test_settings(tmp_path, settings.database_url, RESEND_WEBHOOK_SECRET=secret)


# 4. Odd bodies and headers get a 400, never a 500; one-click unsubscribe still works.

NASTY_JSON = [b"[" * 3000, b'{"email": ' + b"1" * 5000 + b"}", b"{" + b'"a":{' * 3000]


@pytest.mark.parametrize("body", NASTY_JSON)
def test_nasty_json_is_400_everywhere(base_url: str, body: bytes) -> None:
    json_type = {"Content-Type": "application/json"}
    for path in ("/subscribe", "/preferences"):
        assert httpx.post(base_url + path, content=body, headers=json_type).status_code == 400
    api = httpx.post(
        f"{base_url}/api/comparisons",
        content=body,
        headers={**json_type, "Authorization": "Bearer api-token-for-tests"},
    )
    assert api.status_code == 400


def test_too_many_form_fields_is_400(base_url: str) -> None:
    body = "&".join(f"f{i}=x" for i in range(40))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(f"{base_url}/subscribe", content=body, headers=form)
    assert answer.status_code == 400 and "too many fields" in answer.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("&".join(f"f{i}=x" for i in range(40)), "application/x-www-form-urlencoded"),
        ("[" * 3000, "application/json"),
        ('{"a": ' + "9" * 5000 + "}", "application/json"),
    ],
)
def test_one_click_unsubscribes_whatever_the_body(
    base_url: str, engine: Engine, body: str, content_type: str
) -> None:
    subscriber_id = add(engine, "one-click@example.com", confirmed=True)
    fingerprint = subscriptions.email_hash("one-click@example.com")
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, subscriber_id, email_hash=fingerprint, now=NOW)
    answer = httpx.post(
        f"{base_url}/unsubscribe/{token}", content=body, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 200
    stored = load(engine, subscriber_id)
    assert stored is not None and stored.status == SubscriberStatus.UNSUBSCRIBED


def _signed(body: bytes, stamp: str) -> dict[str, str]:
    key = base64.b64decode(HOOK_SECRET.removeprefix("whsec_"))
    signed = b"msg_1." + stamp.encode("utf-8") + b"." + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"svix-id": "msg_1", "svix-timestamp": stamp, "svix-signature": f"v1,{signature}"}


@pytest.mark.parametrize("stamp", ["²", "١٢٣", "9" * 40])
def test_webhook_odd_timestamps_are_400(base_url: str, stamp: str) -> None:
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


# 3. Control characters: refused in comparisons, stripped from overrides, defused in render.


def test_control_character_in_a_comparison_is_a_field_error(base_url: str, engine: Engine) -> None:
    document = json.loads(SAMPLES[0].read_text())
    document["title"] = "Bad\x00title"
    answer = httpx.post(
        f"{base_url}/api/comparisons",
        json=document,
        headers={"Authorization": "Bearer api-token-for-tests"},
    )
    assert answer.status_code == 422
    problem = answer.json()["problems"][0]
    assert problem["loc"] == "title" and "U+0000" in problem["msg"]


def test_editor_overrides_drop_control_characters(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    now = datetime.now(UTC)
    import_docs(engine, week_of(now, 3), now=now)
    with httpx.Client(base_url=base_url) as client:
        client.post("/editor/login", data={"password": PASSWORD})
        page = client.get("/editor/preview").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        saved = client.post(
            "/editor/issue",
            data={"csrf": csrf, "subject": "Big\x00 week\x1f", "note": "A\x0bnote\ufffe\nok"},
        )
        assert saved.status_code == 303
        preview = client.get("/editor/preview")
    assert preview.status_code == 200
    with session_scope(engine, read_only=True) as session:
        draft = issues.find_draft(session)
    assert draft is not None
    assert (draft.subject_override, draft.editor_note) == ("Big week", "Anote\nok")


def test_render_defuses_control_characters() -> None:
    email = render_email(
        "confirm",
        {
            "subject": "Confirm",
            "newsletter_name": "News\x00letter\x1b",
            "confirm_url": "https://digest.test/confirm/x",
            "preferences_url": "https://digest.test/preferences/x",
            "postal_address": "1 Street\x07",
            "preheader": "Pre\x00header",
            "expires_days": 7,
        },
    )
    assert "\x00" not in email.html and "\x1b" not in email.text


# 2. A purged signup's id is never handed to the next reader, so its old links stay dead.


def test_purged_id_is_not_reused_and_old_links_stay_dead(base_url: str, engine: Engine) -> None:
    old = add(engine, "gone@example.com", now=NOW - timedelta(days=60))
    gone = subscriptions.email_hash("gone@example.com")
    preferences = make_token(SECRET, Purpose.PREFERENCES, old, email_hash=gone, now=NOW)
    unsubscribe = make_token(SECRET, Purpose.UNSUBSCRIBE, old, email_hash=gone, now=NOW)
    with session_scope(engine) as session:
        assert subscriptions.purge_unconfirmed(session, now=NOW, older_than=timedelta(days=30))
    new = add(engine, "next@example.com", confirmed=True)
    assert new != old
    page = httpx.get(f"{base_url}/preferences/{preferences}")
    assert page.status_code < 500 and "next@example.com" not in page.text
    data = httpx.post(f"{base_url}/preferences/{preferences}", data={"action": "download"})
    assert "next@example.com" not in data.text
    httpx.post(f"{base_url}/preferences/{preferences}", data={"action": "erase", "sure": "yes"})
    httpx.post(f"{base_url}/unsubscribe/{unsubscribe}")
    stored = load(engine, new)
    assert stored is not None and stored.status == SubscriberStatus.CONFIRMED
    assert stored.email == "next@example.com"


# 8. Erase -> anonymous re-subscribe -> purge must keep the fingerprint.


def test_erased_fingerprint_survives_resubscribe_and_purge(engine: Engine, tmp_path: Path) -> None:
    first = add(engine, "erased@example.com", confirmed=True)
    with session_scope(engine) as session:
        privacy.erase_subscriber(session, first, now=NOW)
    with session_scope(engine) as session:
        from digest import signup

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
        result = signup.request_subscription(
            session, settings, request, now=NOW + timedelta(days=1)
        )
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


# 11. Editor login guesses are limited per IP, in the database; odd CSRF values are a 403.


def test_editor_login_is_rate_limited(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        for _ in range(10):
            wrong = client.post("/editor/login", data={"password": "guess"})
            assert wrong.status_code == 401 and "not right" in wrong.text
        blocked = client.post("/editor/login", data={"password": PASSWORD})
    assert blocked.status_code == 401 and "Too many attempts" in blocked.text
    assert "digest_editor" not in blocked.headers.get("set-cookie", "")


def test_non_ascii_csrf_is_refused_not_a_500(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        client.post("/editor/login", data={"password": PASSWORD})
        answer = client.post("/editor/issue", data={"csrf": "é" * 64, "subject": "x"})
    assert answer.status_code == 403


def test_openapi_schema_is_not_public(base_url: str) -> None:
    assert httpx.get(f"{base_url}/openapi.json").status_code == 404


# 9. An anonymous POST /subscribe cannot rewrite a reader's name or consent record.


def test_anonymous_subscribe_does_not_rewrite_name_or_consent(
    base_url: str, engine: Engine
) -> None:
    reader = add(engine, "victim@example.com", now=NOW)
    with session_scope(engine) as session:
        stored = session.get(Subscriber, reader)
        assert stored is not None
        stored.name = "Vic"
        session.add(stored)
    for address in ("victim@example.com", "someone-new@example.com"):
        answer = httpx.post(
            f"{base_url}/subscribe",
            json={"email": address, "name": "Mallory"},
            headers={"User-Agent": "Evil/1"},
        )
        assert answer.status_code == 202
        assert answer.json()["message"].startswith("If that address")
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


@pytest.mark.parametrize("raw", ["josé@example.com", "用户@example.com"])
def test_non_ascii_local_part_is_refused_clearly(raw: str) -> None:
    with pytest.raises(InvalidInput, match="only ASCII letters before the @"):
        subscriptions.normalise_email(raw)


def test_internationalised_domain_is_fine() -> None:
    assert subscriptions.normalise_email("Ann@Bücher.example").startswith("ann@")


def test_a_link_for_another_address_with_the_same_id_is_refused(
    base_url: str, engine: Engine
) -> None:
    reader = add(engine, "owner@example.com", confirmed=True)
    stale = subscriptions.email_hash("someone-purged@example.com")
    for purpose in (Purpose.PREFERENCES, Purpose.UNSUBSCRIBE):
        token = make_token(SECRET, purpose, reader, email_hash=stale, now=NOW)
        page = httpx.get(f"{base_url}/{purpose.value}/{token}")
        assert page.status_code < 500 and "owner@example.com" not in page.text
        httpx.post(f"{base_url}/{purpose.value}/{token}", data={"action": "erase", "sure": "yes"})
        data = httpx.post(f"{base_url}/preferences/{token}", data={"action": "download"})
        assert "owner@example.com" not in data.text
    stored = load(engine, reader)
    assert stored is not None and stored.status == SubscriberStatus.CONFIRMED
    assert stored.email == "owner@example.com"
