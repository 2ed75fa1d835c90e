"""The edge every request crosses (web/guard.py, web/server.py, web/fallback.py), attacked over
real sockets: bodies that never end, headers that never finish, a hostile Host header.

Memory and timeouts are measured on `digest serve` in its own process, configured as an
operator runs it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.readers import defences, subscriptions
from tests.support.cli import digest_env
from tests.support.live_server import live_server
from tests.support.readers import wait_for_requests
from tests.support.server_process import (
    closed_within,
    digest_serve,
    peak_rss_kib,
    raw_connection,
    read_answer,
    stream_body,
)
from tests.support.settings import make_test_settings

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"edge-webhook-secret-0123456789ab").decode()
BODY_ROUTES = [
    "/editor/login",
    "/editor/issue",
    "/editor/test-send",
    "/editor/logout",
    "/subscribe",
    "/preferences",
    "/api/comparisons",
    "/webhooks/resend",
    "/confirm/abc",
    "/unsubscribe/abc",
    "/nowhere",
]


def served_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return digest_env(
        tmp_path,
        url,
        DIGEST_SECRET_KEY="edge-test-secret-key-0123456789-abcdefgh",
        DIGEST_API_TOKEN="edge-api-token",
        RESEND_WEBHOOK_SECRET=WEBHOOK_SECRET,
        DIGEST_REQUEST_READ_TIMEOUT="1",
        **extra,
    )


@pytest.fixture(params=["editor on", "editor off"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, sqlite_engine: Engine
) -> Iterator[tuple[int, int]]:
    extra = {"DIGEST_EDITOR_PASSWORD": "edge password"} if request.param == "editor on" else {}
    with digest_serve(served_env(tmp_path, sqlite_url, **extra), tmp_path) as running:
        yield running


def chunked_post(path: str, method: str = "POST") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()


def test_endless_bodies_leave_the_server_memory_flat(server: tuple[int, int]) -> None:
    """300 x 1 MB form fields once grew the server by 300 MB: now every route stops at its
    own limit and answers 413 without reading (or buffering) the rest."""
    port, pid = server
    httpx.get(f"http://127.0.0.1:{port}/", timeout=30)  # warm up: templates, the database
    before = peak_rss_kib(pid)
    for path in BODY_ROUTES:
        answer, sent = stream_body(port, chunked_post(path), megabytes=120)
        # 413, or a refusal that needs no body at all (401, 404, the login redirect); or the
        # answer was lost in the reset of a connection closed while we were still sending
        status = answer[9:12]
        assert answer == b"" or status[:1] == b"4" or status == b"303", (path, answer[:200])
        assert sent < 100 * 1_048_576, f"{path} read {sent} bytes before answering"
    answer, _ = stream_body(port, chunked_post("/", method="GET"), megabytes=50)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413")
    grown_mib = (peak_rss_kib(pid) - before) / 1024
    assert grown_mib < 40, f"the server grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_declared_oversize_body_is_refused_before_it_is_sent(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine, path: str
) -> None:
    env = served_env(tmp_path, sqlite_url, DIGEST_EDITOR_PASSWORD="edge password")
    with raw_connection(env, tmp_path) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode()
        )
        answer = read_answer(sock)  # no body sent: the answer must come anyway
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"connection: close" in answer.lower()
    assert b"larger than" in answer


@pytest.mark.parametrize(
    "head",
    [
        b"",  # connects and says nothing
        b"POST /subscribe HTTP/1.1\r\nHost: x\r\n",  # headers that never finish
        b"GET / HTTP/1.1\r\nHo",
    ],
)
def test_a_silent_or_slow_client_is_disconnected(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine, head: bytes
) -> None:
    with raw_connection(served_env(tmp_path, sqlite_url), tmp_path) as sock:
        sock.sendall(head)
        assert closed_within(sock, 20), "the connection is still open 20 s later"


def test_headers_trickled_byte_by_byte_do_not_hold_the_connection(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine
) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    with raw_connection(served_env(tmp_path, sqlite_url), tmp_path) as sock:
        started = time.monotonic()
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass  # closed under us: the point
        assert closed_within(sock, 5) and time.monotonic() - started < 20


def test_a_body_that_stops_coming_gets_408(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine
) -> None:
    with raw_connection(served_env(tmp_path, sqlite_url), tmp_path) as sock:
        sock.sendall(
            b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nemail=a%40"
        )
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]


# -- no request header reaches a redirect or a link --------------------------------------------

HOSTILE_HOST = "evil.example"


@pytest.fixture
def base_url(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[str]:
    app_settings = make_test_settings(
        tmp_path, settings.database_url, editor_password="edge password"
    )
    with live_server(app_settings) as url:
        yield url


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/issues/",
        "/issues",
        "/issues/1/",
        "/feed.xml",
        "/editor",
        "/editor/",
        "/editor/preview",
        "/editor/preview/",
        "/preferences/",
        "/unsubscribe/",
        "/confirm/nonsense",
        "/nowhere/",
        "/subscribe/stamp",
    ],
)
def test_the_host_header_never_reaches_a_redirect_or_a_page(base_url: str, path: str) -> None:
    headers = {
        "Host": HOSTILE_HOST,
        "X-Forwarded-Host": HOSTILE_HOST,
        "X-Forwarded-Proto": "gopher",
        "Forwarded": f"host={HOSTILE_HOST};proto=https",
        "X-Original-URL": f"//{HOSTILE_HOST}/",
    }
    answer = httpx.get(base_url + path, headers=headers, timeout=10)
    assert answer.status_code < 500
    everything = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
    assert HOSTILE_HOST not in everything and "gopher" not in everything
    if answer.is_redirect:
        assert answer.headers["location"].startswith("http://digest.test/")


def test_a_trailing_slash_redirects_under_the_base_url(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/issues/?page=2", headers={"Host": HOSTILE_HOST})
    assert answer.status_code == 308
    assert answer.headers["location"] == "http://digest.test/issues?page=2"


def test_unknown_addresses_get_a_page_not_a_stack(base_url: str) -> None:
    page = httpx.get(f"{base_url}/nowhere")
    assert page.status_code == 404 and "no page at this address" in page.text
    api = httpx.get(f"{base_url}/api/nowhere")
    assert api.status_code == 404 and api.json() == {"error": "There is no page at this address."}
    wrong = httpx.put(f"{base_url}/subscribe", content=b"")
    assert wrong.status_code == 405 and "allow" in wrong.headers


def test_a_get_with_a_body_is_refused(base_url: str) -> None:
    answer = httpx.request("GET", f"{base_url}/", content=b"x" * 10)
    assert answer.status_code == 413 and "takes no request body" in answer.text


# -- HSTS ------------------------------------------------------------------------------------


def test_hsts_only_when_the_base_url_is_https(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    secure = make_test_settings(tmp_path, settings.database_url, base_url="https://news.test")
    with live_server(secure) as url:
        answers = [httpx.get(f"{url}{path}") for path in ("/", "/issues", "/nowhere", "/healthz")]
    for answer in answers:
        assert answer.headers["strict-transport-security"] == "max-age=31536000"
    with live_server(settings) as url:
        assert "strict-transport-security" not in httpx.get(f"{url}/").headers


def test_digest_serve_believes_no_forwarded_header_by_default(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine
) -> None:
    """uvicorn's proxy_headers trusted X-Forwarded-For from 127.0.0.1: the header became the
    stored consent IP and rotated past every per-client limit."""
    env = served_env(tmp_path, sqlite_url, DIGEST_SUBSCRIBE_MIN_SECONDS="0")
    stamp = defences.make_form_stamp(env["DIGEST_SECRET_KEY"], now=datetime.now(UTC))
    with digest_serve(env, tmp_path) as (port, _pid):
        answer = httpx.post(
            f"http://127.0.0.1:{port}/subscribe",
            data={"email": "xff@example.com", "form_stamp": stamp},
            headers={"X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert answer.status_code == 200
        wait_for_requests(sqlite_engine)
    with session_scope(sqlite_engine, read_only=True) as session:
        reader = subscriptions.find_by_email(session, "xff@example.com")
    assert reader is not None and reader.pending_consent_ip == "127.0.0.1"


def test_json_clients_are_refused_in_json(base_url: str) -> None:
    answer = httpx.post(
        f"{base_url}/subscribe",
        content=b"{" + b" " * 20_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413 and "larger than" in answer.json()["error"]
