"""/confirm, /unsubscribe and /preferences/{token} over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest import links
from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, Subscriber, SubscriberStatus
from digest.readers import subscriptions
from digest.tokens import Purpose, make_token
from tests.support.live_server import live_server
from tests.support.mailbox import wait_for_mail
from tests.support.settings import SECRET, make_test_settings

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def web_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(tmp_path, settings.database_url)


@pytest.fixture
def base_url(web_settings: Settings) -> Iterator[str]:
    with live_server(web_settings) as url:
        yield url


def add(
    engine: Engine,
    email: str,
    *,
    confirmed: bool = False,
    name: str | None = None,
    now: datetime | None = None,
) -> int:
    with session_scope(engine) as session:
        subscriber = subscriptions.add_subscriber(
            session,
            email,
            name=name,
            confirmed=confirmed,
            route=ConsentRoute.FORM,
            now=now or datetime.now(UTC),
            ip="198.51.100.7",
            user_agent="Tester/1",
        )
        HASHES[subscriber.id or 0] = subscriber.email_hash
        return subscriber.id or 0


HASHES: dict[int, str] = {}  # id -> email_hash of the readers `add` made (tokens carry a tag)


def token(purpose: Purpose, subscriber_id: int, *, when: datetime | None = None) -> str:
    return make_token(
        SECRET,
        purpose,
        subscriber_id,
        email_hash=HASHES.get(subscriber_id, "0" * 64),
        now=when or datetime.now(UTC),
    )


def load(engine: Engine, subscriber_id: int) -> Subscriber:
    with session_scope(engine, read_only=True) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber


def assert_token_page_headers(response: httpx.Response) -> None:
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_get_confirm_changes_nothing_and_post_confirms_once(base_url: str, engine: Engine) -> None:
    subscriber_id = add(engine, "new@example.com", name="Ann")
    url = f"{base_url}/confirm/{token(Purpose.CONFIRM, subscriber_id)}"
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert "Ann" in page.text  # the reader sees the name we would greet them with
    assert_token_page_headers(page)
    assert load(engine, subscriber_id).status == SubscriberStatus.PENDING
    for _ in range(2):  # confirming twice is fine
        done = httpx.post(url, timeout=10)
        assert done.status_code == 200 and "You are subscribed" in done.text
    confirmed = load(engine, subscriber_id)
    assert confirmed.status == SubscriberStatus.CONFIRMED and confirmed.confirmed_at is not None


@pytest.mark.parametrize("path", ["confirm", "unsubscribe", "preferences"])
def test_forged_tokens_get_a_friendly_400(base_url: str, engine: Engine, path: str) -> None:
    subscriber_id = add(engine, "x@example.com", confirmed=True)
    good = token(Purpose(path), subscriber_id)
    for bad in [
        # A signature character that always differs (the last one of base64 carries unused
        # bits: "xx" in its place was the same signature once in ~1000 runs).
        good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:],
        "nonsense",
        "a" * 500,
        make_token(
            "other-secret" * 4,
            Purpose(path),
            subscriber_id,
            email_hash=HASHES[subscriber_id],
            now=datetime.now(UTC),
        ),
    ]:
        for method in ("GET", "POST"):
            response = httpx.request(method, f"{base_url}/{path}/{bad}", timeout=10)
            assert response.status_code == 400, (method, bad)
            assert "This link does not work" in response.text
            assert "Traceback" not in response.text
            assert "/preferences" in response.text  # a way to ask again
    assert load(engine, subscriber_id).status == SubscriberStatus.CONFIRMED


def test_tokens_only_work_for_their_own_purpose(base_url: str, engine: Engine) -> None:
    pending = add(engine, "p@example.com")
    confirmed = add(engine, "c@example.com", confirmed=True)
    confirm_as_unsubscribe = httpx.post(
        f"{base_url}/unsubscribe/{token(Purpose.CONFIRM, confirmed)}", timeout=10
    )
    unsubscribe_as_confirm = httpx.post(
        f"{base_url}/confirm/{token(Purpose.UNSUBSCRIBE, pending)}", timeout=10
    )
    assert confirm_as_unsubscribe.status_code == unsubscribe_as_confirm.status_code == 400
    assert load(engine, confirmed).status == SubscriberStatus.CONFIRMED
    assert load(engine, pending).status == SubscriberStatus.PENDING


def test_expired_confirm_link_offers_a_new_one(base_url: str, engine: Engine) -> None:
    subscriber_id = add(engine, "late@example.com")
    old = token(Purpose.CONFIRM, subscriber_id, when=datetime.now(UTC) - timedelta(days=8))
    response = httpx.post(f"{base_url}/confirm/{old}", timeout=10)
    assert response.status_code == 400 and "expired" in response.text
    assert "Subscribe again" in response.text
    assert load(engine, subscriber_id).status == SubscriberStatus.PENDING


def test_one_click_unsubscribe_rfc8058(base_url: str, engine: Engine) -> None:
    subscriber_id = add(engine, "reader@example.com", confirmed=True)
    response = httpx.post(
        f"{base_url}/unsubscribe/{token(Purpose.UNSUBSCRIBE, subscriber_id)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert load(engine, subscriber_id).status == SubscriberStatus.UNSUBSCRIBED


def test_unsubscribe_page_button_and_undo(base_url: str, engine: Engine) -> None:
    subscriber_id = add(engine, "reader@example.com", confirmed=True)
    url = f"{base_url}/unsubscribe/{token(Purpose.UNSUBSCRIBE, subscriber_id)}"
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and page.text.count("<button") == 1
    assert_token_page_headers(page)
    assert load(engine, subscriber_id).status == SubscriberStatus.CONFIRMED
    done = httpx.post(url, data={}, timeout=10)
    assert "You are unsubscribed" in done.text and "resubscribe" in done.text
    assert load(engine, subscriber_id).status == SubscriberStatus.UNSUBSCRIBED
    undo = httpx.post(url, data={"action": "resubscribe"}, timeout=10)
    assert undo.status_code == 200 and "Welcome back" in undo.text
    assert load(engine, subscriber_id).status == SubscriberStatus.CONFIRMED


def test_preferences_rename_download_and_erase(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    subscriber_id = add(engine, "me@example.com", confirmed=True, name="Ann")
    url = links.preferences_url(
        web_settings, subscriber_id, email_hash=HASHES[subscriber_id], now=datetime.now(UTC)
    ).replace(web_settings.base_url, base_url)
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "m•••@example.com" in page.text
    assert "me@example.com" not in page.text  # the footer link travels with forwarded issues
    assert_token_page_headers(page)
    renamed = httpx.post(url, data={"action": "rename", "name": "Annie"}, timeout=10)
    assert renamed.status_code == 200 and load(engine, subscriber_id).name == "Annie"
    asked = httpx.post(url, data={"action": "email-data-link"}, timeout=10)
    assert asked.status_code == 200 and "We emailed a link" in asked.text
    [mail] = wait_for_mail(web_settings.outbox_dir)
    assert mail.to == "me@example.com"
    data_url = mail.link("data").replace(web_settings.base_url, base_url)
    assert "/data/" in data_url
    shown = httpx.get(data_url, timeout=10)
    assert shown.status_code == 200 and "me@example.com" in shown.text
    assert_token_page_headers(shown)
    data = httpx.post(data_url, data={"action": "download"}, timeout=10)
    assert "attachment" in data.headers["content-disposition"]
    exported = json.loads(data.text)
    assert exported["email"] == "me@example.com" and exported["name"] == "Annie"
    assert exported["consent"]["ip"] == "198.51.100.7" and exported["consent"]["route"] == "form"
    refused = httpx.post(data_url, data={"action": "erase"}, timeout=10)
    assert refused.status_code == 400 and load(engine, subscriber_id).email == "me@example.com"
    erased = httpx.post(data_url, data={"action": "erase", "sure": "yes"}, timeout=10)
    assert erased.status_code == 200 and "erased" in erased.text
    gone = load(engine, subscriber_id)
    assert (gone.email, gone.name, gone.consent_ip, gone.consent_user_agent) == (None,) * 4
    assert gone.status == SubscriberStatus.ERASED
    assert gone.email_hash == subscriptions.email_hash("me@example.com")
    for path, purpose in [
        ("preferences", Purpose.PREFERENCES),
        ("unsubscribe", Purpose.UNSUBSCRIBE),
        ("confirm", Purpose.CONFIRM),
        ("data", Purpose.DATA),
    ]:
        for method in ("GET", "POST"):
            calm = httpx.request(
                method, f"{base_url}/{path}/{token(purpose, subscriber_id)}", timeout=10
            )
            assert calm.status_code in (200, 400), (path, method, calm.text)
            assert "me@example.com" not in calm.text
    with session_scope(engine) as session, pytest.raises(Exception, match="erased"):
        subscriptions.add_subscriber(
            session, "me@example.com", route=ConsentRoute.IMPORT, now=datetime.now(UTC)
        )


def test_a_forwarded_footer_link_can_neither_export_nor_erase(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    """Whoever holds a forwarded issue may unsubscribe; the data and its erasure need a link
    sent to the address, which expires; one link's token does nothing at another's address."""
    reader = add(engine, "fwd@example.com", confirmed=True, name="Fwd")
    footer = f"{base_url}/preferences/{token(Purpose.PREFERENCES, reader)}"
    download = httpx.post(footer, data={"action": "download"}, timeout=10)
    erase = httpx.post(footer, data={"action": "erase", "sure": "yes"}, timeout=10)
    for answer in (download, erase):
        assert answer.status_code == 403 and "fresh link" in answer.text
        assert "fwd@example.com" not in answer.text and "198.51.100.7" not in answer.text
    assert load(engine, reader).email == "fwd@example.com"
    for purpose in (Purpose.PREFERENCES, Purpose.UNSUBSCRIBE, Purpose.CONFIRM):
        misused = httpx.post(
            f"{base_url}/data/{token(purpose, reader)}", data={"action": "download"}, timeout=10
        )
        assert misused.status_code == 400 and "fwd@example.com" not in misused.text
    fingerprint = HASHES[reader]
    stale = make_token(
        SECRET,
        Purpose.DATA,
        reader,
        email_hash=fingerprint,
        now=datetime.now(UTC) - timedelta(minutes=web_settings.data_link_minutes + 1),
    )
    expired = httpx.post(f"{base_url}/data/{stale}", data={"action": "download"}, timeout=10)
    assert expired.status_code == 400 and "expired" in expired.text
    unsubscribed = httpx.post(footer, data={"action": "unsubscribe"}, timeout=10)
    assert unsubscribed.status_code == 200
    assert load(engine, reader).status == SubscriberStatus.UNSUBSCRIBED


def test_data_links_are_limited_per_reader(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    reader = add(engine, "often@example.com", confirmed=True)
    footer = f"{base_url}/preferences/{token(Purpose.PREFERENCES, reader)}"
    answers = [httpx.post(footer, data={"action": "email-data-link"}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert "At most 3 such links an hour" in answers[-1].text
    assert len(wait_for_mail(web_settings.outbox_dir, 3)) == 3


def test_preferences_unknown_action_and_rename_too_long(base_url: str, engine: Engine) -> None:
    subscriber_id = add(engine, "me@example.com", confirmed=True)
    url = f"{base_url}/preferences/{token(Purpose.PREFERENCES, subscriber_id)}"
    assert httpx.post(url, data={"action": "explode"}, timeout=10).status_code == 400
    long = httpx.post(url, data={"action": "rename", "name": "x" * 101}, timeout=10)
    assert long.status_code == 400 and load(engine, subscriber_id).name is None


def test_link_to_a_purged_subscriber_is_a_friendly_400(base_url: str, engine: Engine) -> None:
    response = httpx.get(f"{base_url}/confirm/{token(Purpose.CONFIRM, 987654)}", timeout=10)
    assert response.status_code == 400 and "no longer works" in response.text


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
    """RFC 8058 one-click unsubscribes even when the body is odd or hostile."""
    subscriber_id = add(engine, "one-click@example.com", confirmed=True)
    fingerprint = subscriptions.email_hash("one-click@example.com")
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, subscriber_id, email_hash=fingerprint, now=NOW)
    answer = httpx.post(
        f"{base_url}/unsubscribe/{token}", content=body, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 200
    stored = load(engine, subscriber_id)
    assert stored is not None and stored.status == SubscriberStatus.UNSUBSCRIBED


def test_purged_id_is_not_reused_and_old_links_stay_dead(base_url: str, engine: Engine) -> None:
    """A purged signup's id is never handed to the next reader, so its old links stay dead."""
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
