"""GET / and POST /subscribe over real HTTP (uvicorn on 127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute, SubscriberStatus
from digest.readers import privacy, subscriptions
from tests.support.live_server import live_server
from tests.support.mailbox import outbox_mail, wait_for_mail
from tests.support.readers import form_stamp, wait_for_requests
from tests.support.settings import make_test_settings


@pytest.fixture
def web_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(
        tmp_path,
        settings.database_url,
        subscribe_min_seconds=2,
        subscribe_ip_limit=50,
        subscribe_address_limit=5,
        confirm_resend_minutes=10,
    )


@pytest.fixture
def base_url(web_settings: Settings) -> Iterator[str]:
    with live_server(web_settings) as url:
        yield url


def stamp(seconds_ago: float = 5) -> str:
    return form_stamp(seconds_ago)


def subscribe(base_url: str, email: str, **fields: str) -> httpx.Response:
    data = {"email": email, "name": "", "website": "", "form_stamp": stamp(), **fields}
    return httpx.post(f"{base_url}/subscribe", data=data, timeout=10)


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def status_of(engine: Engine, email: str) -> str | None:
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, email)
        return None if found is None else str(found.status)


def test_front_page_has_an_accessible_form(base_url: str) -> None:
    response = httpx.get(f"{base_url}/", timeout=10)
    assert response.status_code == 200
    page = response.text
    assert '<label for="email">' in page and 'type="email"' in page
    assert 'name="website"' in page and 'name="form_stamp"' in page
    assert "<script" not in page
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "/issues" in page


def test_subscribe_sends_one_confirmation_without_echoing_the_name(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    response = subscribe(base_url, "Reader@Example.com", name="<b>Buy pills at spam.example</b>")
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    mail = wait_for_mail(web_settings.outbox_dir)
    assert len(mail) == 1
    assert mail[0].to == "reader@example.com"
    assert "spam.example" not in mail[0].text + mail[0].html + mail[0].subject
    assert "/confirm/" in mail[0].link("confirm")
    assert status_of(engine, "reader@example.com") == SubscriberStatus.PENDING
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, "reader@example.com")
        assert found is not None
        assert found.consent_route == ConsentRoute.FORM
        assert found.consent_ip == "127.0.0.1"
        assert found.consent_user_agent and "python-httpx" in found.consent_user_agent


def test_the_answer_is_the_same_whatever_the_address_state(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        subscriptions.add_subscriber(
            session, "confirmed@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        subscriptions.add_subscriber(
            session, "pending@example.com", route=ConsentRoute.CLI, now=now
        )
        gone = subscriptions.add_subscriber(
            session, "unsub@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        subscriptions.unsubscribe_subscriber(session, gone.id or 0, now=now)
        bounced = subscriptions.add_subscriber(
            session, "bounced@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        subscriptions.suppress_subscriber(
            session, bounced.id or 0, status=SubscriberStatus.BOUNCED, now=now
        )
    answers = {
        address: subscribe(base_url, address)
        for address in [
            "new@example.com",
            "pending@example.com",
            "confirmed@example.com",
            "unsub@example.com",
            "bounced@example.com",
        ]
    }
    blocked = subscribe(base_url, "bot@example.com", website="http://spam.example")
    bodies = {response.text for response in [*answers.values(), blocked]}
    statuses = {response.status_code for response in [*answers.values(), blocked]}
    assert len(bodies) == 1 and statuses == {200}
    mail = wait_for_mail(web_settings.outbox_dir, 3)
    assert sorted(m.to for m in mail) == [
        "new@example.com",
        "pending@example.com",
        "unsub@example.com",
    ]
    assert status_of(engine, "unsub@example.com") == SubscriberStatus.UNSUBSCRIBED
    assert status_of(engine, "bounced@example.com") == SubscriberStatus.BOUNCED
    assert status_of(engine, "bot@example.com") is None


def test_confirmation_is_resent_at_most_once_per_interval(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    for _ in range(3):
        assert subscribe(base_url, "eager@example.com").status_code == 200
    wait_for_requests(engine)
    assert count(engine, "transactional_message") == 1
    assert len(wait_for_mail(web_settings.outbox_dir)) == 1


def test_bots_get_the_calm_answer_and_nothing_happens(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    """The honeypot, and a stamp that was already used once: the calm page, nothing stored."""
    used = stamp()
    assert subscribe(base_url, "first@example.com", form_stamp=used).status_code == 200
    wait_for_requests(engine)
    for fields in ({"website": "x"}, {"form_stamp": used}):
        response = subscribe(base_url, "target@example.com", **fields)
        assert response.status_code == 200, fields
        assert "Check your inbox" in response.text
    wait_for_requests(engine)
    assert status_of(engine, "target@example.com") is None
    assert count(engine, "transactional_message") == 1


@pytest.mark.parametrize(
    ("made", "why"),
    [("", "missing"), ("forged.stamp", "forged"), ("fresh", "too fast"), ("stale", "too old")],
)
def test_without_a_usable_stamp_the_form_asks_to_press_once_more(
    base_url: str, engine: Engine, web_settings: Settings, made: str, why: str
) -> None:
    """Never "check your inbox" for nothing: the form again, what was typed kept, nothing
    stored; a stamp that was only too young comes back as it was (its clock keeps running)."""
    given = {"fresh": stamp(0), "stale": stamp(3 * 86400)}.get(made, made)
    response = subscribe(base_url, "target@example.com", name="Ann", form_stamp=given)
    assert response.status_code == 200, why
    assert "Check your inbox" not in response.text
    assert "press the button once more" in response.text
    assert 'value="target@example.com"' in response.text and 'value="Ann"' in response.text
    kept = re.search(r'name="form_stamp" value="([^"]+)"', response.text)
    assert kept is not None
    assert (kept.group(1) == given) == (made == "fresh"), why
    assert count(engine, "reader_request") == 0
    assert count(engine, "subscriber") == 0
    assert outbox_mail(web_settings.outbox_dir) == []


def test_per_address_limit_holds_in_the_database(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    limited = make_test_settings(
        tmp_path,
        settings.database_url,
        subscribe_min_seconds=0,
        subscribe_address_limit=2,
        confirm_resend_minutes=0,
    )
    for _ in range(2):  # two servers, one after the other: the count survives the restart
        with live_server(limited) as url:
            for _ in range(2):
                subscribe(url, "victim@example.com")
            wait_for_requests(engine)
    assert count(engine, "transactional_message") == 2


def test_per_ip_limit_blocks_further_signups(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    limited = make_test_settings(
        tmp_path, settings.database_url, subscribe_min_seconds=0, subscribe_ip_limit=3
    )
    with live_server(limited) as url:
        answers = [subscribe(url, f"reader{i}@example.com").text for i in range(5)]
        wait_for_requests(engine)
    assert len(set(answers)) == 1
    assert count(engine, "subscriber") == 3


def test_bad_address_re_renders_the_form_escaped(base_url: str, engine: Engine) -> None:
    response = subscribe(base_url, "<script>alert(1)</script>", name="Ann")
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text
    assert 'value="Ann"' in response.text
    assert count(engine, "subscriber") == 0


def test_json_subscribe(base_url: str, engine: Engine, web_settings: Settings) -> None:
    sent = {"email": "api@example.com", "form_stamp": stamp()}
    ok = httpx.post(f"{base_url}/subscribe", json=sent, timeout=10)
    assert ok.status_code == 202 and ok.json()["status"] == "accepted"
    again = httpx.post(f"{base_url}/subscribe", json={**sent, "form_stamp": stamp()}, timeout=10)
    assert again.json() == ok.json()
    wait_for_requests(engine)
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, "api@example.com")
        assert found is not None and found.consent_route == ConsentRoute.API
    bad = httpx.post(
        f"{base_url}/subscribe", json={"email": "nope", "form_stamp": stamp()}, timeout=10
    )
    assert bad.status_code == 422 and "error" in bad.json()
    for body in [b"[1]", b"{", b"\xff\xfe"]:
        response = httpx.post(
            f"{base_url}/subscribe",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400
    assert len(wait_for_mail(web_settings.outbox_dir)) == 1


def test_oversized_form_is_refused(base_url: str, engine: Engine) -> None:
    response = subscribe(base_url, "a@example.com", name="x" * 20_000)
    assert response.status_code == 413
    assert count(engine, "subscriber") == 0


def test_lost_link_form_mails_known_readers_only(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    with session_scope(engine) as session:
        subscriptions.add_subscriber(
            session,
            "known@example.com",
            confirmed=True,
            route=ConsentRoute.CLI,
            now=datetime.now(UTC),
        )
    page = httpx.get(f"{base_url}/unsubscribe", timeout=10)
    assert page.status_code == 200 and 'action="/preferences"' in page.text
    answers = {
        httpx.post(
            f"{base_url}/preferences", data={"email": address, "form_stamp": stamp()}, timeout=10
        ).text
        for address in ["known@example.com", "stranger@example.com"]
    }
    assert len(answers) == 1
    mail = wait_for_mail(web_settings.outbox_dir)
    assert [m.to for m in mail] == ["known@example.com"]
    assert re.search(r"/preferences/\S+", mail[0].text)


def test_an_erased_reader_may_subscribe_again_but_a_bounced_one_never(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        back = subscriptions.add_subscriber(
            session, "back@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        privacy.erase_subscriber(session, back.id or 0, now=now)
        gone = subscriptions.add_subscriber(
            session, "bounced@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        subscriptions.suppress_subscriber(
            session, gone.id or 0, status=SubscriberStatus.BOUNCED, now=now
        )
        privacy.erase_subscriber(session, gone.id or 0, now=now)
    subscribe(base_url, "back@example.com")
    subscribe(base_url, "bounced@example.com")
    mail = wait_for_mail(web_settings.outbox_dir)
    wait_for_requests(engine)
    assert [m.to for m in mail] == ["back@example.com"]
    with session_scope(engine, read_only=True) as session:
        again = subscriptions.find_by_email(session, "back@example.com")
        assert again is not None and again.id == back.id
        # the erased mark stays until the owner confirms: an unconfirmed signup that gets
        # purged turns back into the tombstone instead of taking the fingerprint with it
        assert again.status == SubscriberStatus.PENDING and again.erased_at is not None
    assert status_of(engine, "bounced@example.com") == SubscriberStatus.ERASED
    assert count(engine, "transactional_message") == 1


def test_too_many_form_fields_is_400(base_url: str) -> None:
    body = "&".join(f"f{i}=x" for i in range(40))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(f"{base_url}/subscribe", content=body, headers=form)
    assert answer.status_code == 400 and "too many fields" in answer.text


def test_the_answer_costs_the_same_whatever_the_address_state(
    base_url: str, engine: Engine, web_settings: Settings
) -> None:
    """New and confirmed addresses were told apart by the response time of POST /subscribe
    (78% from one probe): before it answers, the server now runs the very same statements for
    every address, whatever its state; what depends on the address runs after the answer, off
    the request (in the reader-work loop's threads)."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        subscriptions.add_subscriber(
            session, "confirmed@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        subscriptions.add_subscriber(
            session, "pending@example.com", route=ConsentRoute.CLI, now=now
        )
        gone = subscriptions.add_subscriber(
            session, "erased@example.com", confirmed=True, route=ConsentRoute.CLI, now=now
        )
        privacy.erase_subscriber(session, gone.id or 0, now=now)
    subscribe(base_url, "warm-up@example.com")  # the client's first hit of the hour sweeps
    wait_for_requests(engine)
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # The request's own statements (in worker threads too since issue 14), not the
        # reader-work loop's (mail_retry._one_round), which runs after the answer.
        if "_one_round" not in {frame.name for frame in traceback.extract_stack()}:
            seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        runs = {}
        for address in [
            "new@example.com",
            "confirmed@example.com",
            "pending@example.com",
            "erased@example.com",
        ]:
            seen.clear()
            answer = subscribe(base_url, address)
            runs[address] = list(seen)
            assert "Check your inbox" in answer.text
            wait_for_requests(engine)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert runs["new@example.com"], "no statement was recorded"
    assert all(run == runs["new@example.com"] for run in runs.values()), runs
    assert not any("subscriber" in statement for statement in runs["new@example.com"])
