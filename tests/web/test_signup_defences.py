"""Attacks on the public requests, replayed over real HTTP on both engines: spoofed client
addresses, JSON without the bot defences, replayed stamps, guessed API tokens; and the person
who typed a typo or pressed too fast, who must never be told "check your inbox" for nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute
from digest.readers import defences, subscriptions
from digest.web.login_limits import LOGIN_LIMIT
from tests.support.live_server import live_server
from tests.support.mailbox import wait_for_mail
from tests.support.readers import form_stamp, wait_for_requests
from tests.support.settings import SECRET, make_test_settings

TOKEN = "api-token-for-tests"


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def reader(engine: Engine, email: str) -> tuple[str | None, str | None] | None:
    with session_scope(engine, read_only=True) as session:
        found = subscriptions.find_by_email(session, email)
        return None if found is None else (found.consent_ip, found.consent_route)


@pytest.fixture
def served(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[tuple[str, Settings]]:
    app = make_test_settings(
        tmp_path,
        settings.database_url,
        subscribe_min_seconds=1,
        subscribe_ip_limit=3,
        api_token=TOKEN,
        editor_password="editor password",
    )
    with live_server(app) as url:
        yield url, app


def post(
    url: str, path: str = "/subscribe", headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    return httpx.post(url + path, data=fields, headers=headers, timeout=10)


# -- client addresses (issue 9, item 4) --------------------------------------------------------


def test_a_rotating_x_forwarded_for_is_not_believed_by_default(
    served: tuple[str, Settings], engine: Engine
) -> None:
    url, _ = served
    for i in range(6):
        post(
            url,
            email=f"r{i}@example.com",
            form_stamp=form_stamp(),
            headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"192.0.2.{i}"},
        )
    wait_for_requests(engine)
    assert count(engine, "subscriber") == 3  # the per-client limit held
    assert reader(engine, "r0@example.com") == ("127.0.0.1", ConsentRoute.FORM)


def test_the_editor_login_limit_holds_against_rotating_headers(
    served: tuple[str, Settings],
) -> None:
    url, _ = served
    with httpx.Client(base_url=url) as client:
        page = client.get("/editor/login").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        answers = [
            client.post(
                "/editor/login",
                data={"csrf": csrf.group(1), "email": f"g{i}@example.com", "password": "guess"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            for i in range(2 * LOGIN_LIMIT + 1)
        ]
    # The limit counts in fixed 15-minute windows: the posts may straddle one boundary, so two
    # windows get them all between them and one of the two must have refused at least once.
    # Believing the rotating header would let every post through.
    refused = [a for a in answers if "Too many attempts" in a.text]
    assert refused, [a.status_code for a in answers]


@pytest.fixture
def behind_proxy(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[str]:
    app = make_test_settings(
        tmp_path,
        settings.database_url,
        subscribe_min_seconds=0,
        subscribe_ip_limit=2,
        trusted_proxies="10.9.0.0/16, 127.0.0.1",
    )
    with live_server(app) as url:
        yield url


@pytest.mark.parametrize(
    ("forwarded", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("1.1.1.1, 203.0.113.7", "203.0.113.7"),  # the client's own claim is to the left
        ("203.0.113.7, 10.9.4.4", "203.0.113.7"),  # a second trusted proxy is skipped
        ("garbage", "127.0.0.1"),
        ("203.0.113.7, <script>", "127.0.0.1"),
        ("::ffff:203.0.113.8", "203.0.113.8"),
        ("", "127.0.0.1"),
    ],
)
def test_forwarded_addresses_are_believed_from_trusted_proxies_only(
    behind_proxy: str, engine: Engine, forwarded: str, stored: str
) -> None:
    answer = post(
        behind_proxy,
        email="proxied@example.com",
        form_stamp=form_stamp(),
        headers={"X-Forwarded-For": forwarded},
    )
    assert answer.status_code == 200
    wait_for_requests(engine)
    assert reader(engine, "proxied@example.com") == (stored, ConsentRoute.FORM)


def test_ipv6_clients_behind_a_proxy_are_counted_per_64(behind_proxy: str, engine: Engine) -> None:
    for i in range(5):
        post(
            behind_proxy,
            email=f"v6-{i}@example.com",
            form_stamp=form_stamp(),
            headers={"X-Forwarded-For": f"2001:db8:aa:bb::{i + 1}"},
        )
    wait_for_requests(engine)
    assert count(engine, "subscriber") == 2


# -- every route that mails has the same defences (item 5) -------------------------------------


def test_json_without_a_stamp_is_sent_back_for_one(
    served: tuple[str, Settings], engine: Engine
) -> None:
    url, _ = served
    answer = httpx.post(f"{url}/subscribe", json={"email": "js@example.com"})
    assert answer.status_code == 429 and "retry-after" in answer.headers
    assert httpx.post(f"{url}/preferences", json={"email": "js@example.com"}).status_code == 429
    stamp = answer.json()["form_stamp"]
    assert defences.read_stamp(SECRET, stamp) is not None
    trap = httpx.post(
        f"{url}/subscribe", json={"email": "js@example.com", "website": "x", "form_stamp": stamp}
    )
    assert trap.status_code == 202  # the calm answer, and nothing happens
    wait_for_requests(engine)
    assert count(engine, "subscriber") == 0


def test_the_stamp_endpoint_serves_the_embedded_box(
    served: tuple[str, Settings], engine: Engine
) -> None:
    url, app = served
    origin = {"Origin": "https://site.test"}
    given = httpx.get(f"{url}/subscribe/stamp", headers=origin)
    assert given.status_code == 200 and given.headers["cache-control"] == "no-store"
    assert given.headers["access-control-allow-origin"] == "https://site.test"
    body = given.json()
    assert body["honeypot_field"] == "website" and body["min_seconds"] == app.subscribe_min_seconds
    early = httpx.post(
        f"{url}/subscribe", json={"email": "box@example.com", "form_stamp": body["form_stamp"]}
    )
    assert early.status_code == 429 and early.json()["form_stamp"] == body["form_stamp"]
    time.sleep(early.json()["retry_after"])
    sent = httpx.post(
        f"{url}/subscribe",
        json={"email": "box@example.com", "form_stamp": body["form_stamp"]},
        headers=origin,
    )
    assert (
        sent.status_code == 202
        and sent.headers["access-control-allow-origin"] == "https://site.test"
    )
    wait_for_requests(engine)
    assert reader(engine, "box@example.com") == ("127.0.0.1", ConsentRoute.API)


def test_cors_is_for_the_site_and_the_signup_only(served: tuple[str, Settings]) -> None:
    url, _ = served
    preflight = {"Origin": "https://site.test", "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(f"{url}/subscribe", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://site.test"
    assert "access-control-allow-credentials" not in allowed.headers
    other = httpx.options(f"{url}/subscribe", headers={**preflight, "Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in other.headers
    elsewhere = httpx.get(f"{url}/issues", headers={"Origin": "https://site.test"})
    assert "access-control-allow-origin" not in elsewhere.headers


def test_a_server_side_proxy_with_the_api_token_skips_stamp_and_honeypot(
    served: tuple[str, Settings], engine: Engine
) -> None:
    url, _ = served
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    ok = httpx.post(f"{url}/subscribe", json={"email": "proxy@example.com"}, headers=bearer)
    assert ok.status_code == 202
    wrong = httpx.post(
        f"{url}/subscribe", json={"email": "x@example.com"}, headers={"Authorization": "Bearer no"}
    )
    assert wrong.status_code == 401
    wait_for_requests(engine)
    assert reader(engine, "proxy@example.com") == ("127.0.0.1", ConsentRoute.API)
    assert reader(engine, "x@example.com") is None


def test_wrong_api_tokens_are_throttled(served: tuple[str, Settings]) -> None:
    url, _ = served
    guesses = [
        httpx.post(f"{url}/api/comparisons", json=[], headers={"Authorization": f"Bearer guess{i}"})
        for i in range(12)
    ]
    assert [g.status_code for g in guesses[:10]] == [401] * 10
    assert guesses[10].status_code == 429 and "retry-after" in guesses[10].headers
    right = httpx.post(
        f"{url}/api/comparisons", json=[], headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert right.status_code == 429  # a guesser who hits it while blocked learns nothing
    also = httpx.post(f"{url}/subscribe", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert also.status_code == 429


# -- stamps used once, and people who typed a typo or pressed too fast (item 13, issue 10.13) --


def test_a_replayed_stamp_does_nothing(served: tuple[str, Settings], engine: Engine) -> None:
    url, _ = served
    stamp = form_stamp()
    first = post(url, email="once@example.com", form_stamp=stamp)
    replay = post(url, email="twice@example.com", form_stamp=stamp)
    assert first.text == replay.text and "Check your inbox" in replay.text
    wait_for_requests(engine)
    assert reader(engine, "once@example.com") is not None
    assert reader(engine, "twice@example.com") is None


def stamp_on(page: str) -> str:
    found = re.search(r'name="form_stamp" value="([^"]+)"', page)
    assert found is not None, "no stamp on the page"
    return found.group(1)


@pytest.mark.parametrize("path", ["/", "/preferences"])
def test_a_typo_fixed_at_once_is_not_lost(
    served: tuple[str, Settings], engine: Engine, path: str
) -> None:
    """Submit x@examplecom, get the error, fix it and resubmit within a second: the form's own
    stamp comes back with the error, so its clock kept running and the fix goes through."""
    url, app = served
    if path == "/preferences":
        with session_scope(engine) as session:
            subscriptions.add_subscriber(
                session,
                "x@example.com",
                confirmed=True,
                route=ConsentRoute.CLI,
                now=datetime.now(UTC),
            )
    served_at = stamp_on(httpx.get(url + path).text)
    time.sleep(app.subscribe_min_seconds)  # the person types the address
    target = "/subscribe" if path == "/" else path
    typo = post(url, target, email="x@examplecom", form_stamp=served_at)
    assert typo.status_code == 400 and 'role="alert"' in typo.text
    assert stamp_on(typo.text) == served_at
    fixed = post(url, target, email="x@example.com", form_stamp=stamp_on(typo.text))
    assert fixed.status_code == 200 and "Check your inbox" in fixed.text
    mail = wait_for_mail(app.outbox_dir)
    assert [m.to for m in mail] == ["x@example.com"]


def test_an_autofill_press_half_a_second_after_load_is_asked_once_more(
    served: tuple[str, Settings], engine: Engine
) -> None:
    url, app = served
    served_at = stamp_on(httpx.get(url + "/").text)
    hasty = post(url, email="auto@example.com", name="Auto", form_stamp=served_at)
    assert hasty.status_code == 200 and "Check your inbox" not in hasty.text
    assert "press the button once more" in hasty.text
    assert stamp_on(hasty.text) == served_at and 'value="auto@example.com"' in hasty.text
    time.sleep(app.subscribe_min_seconds)
    again = post(url, email="auto@example.com", name="Auto", form_stamp=stamp_on(hasty.text))
    assert "Check your inbox" in again.text
    assert [m.to for m in wait_for_mail(app.outbox_dir)] == ["auto@example.com"]
