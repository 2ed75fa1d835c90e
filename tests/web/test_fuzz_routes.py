"""Property: whatever arrives at a public route, the answer is never a 500 and nothing is stored
that should not be (no forged signup, no state change without a valid token, no webhook event
without a valid signature). Real HTTP against uvicorn on 127.0.0.1, SQLite."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.models import ConsentRoute
from digest.readers import subscriptions
from digest.tokens import Purpose, make_token
from tests.support.hostile import NASTY_JSON
from tests.support.live_server import live_server
from tests.support.settings import SECRET, make_test_settings

World = tuple[httpx.Client, Engine, int]
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"fuzz-webhook-secret-0123456789ab").decode()
FIELD_NAMES = ["email", "name", "website", "form_stamp", "action", "sure", "List-Unsubscribe"]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/json",
    "multipart/form-data; boundary=x",
    "text/plain",
    "application/json; charset=latin-1",
    "",
]
# Header values h11 will put on the wire: visible ASCII, no leading or trailing space.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=60
)
# Digits Python's isdigit() accepts but int() refuses, and other non-ASCII header bytes.
odd_header_text = st.one_of(
    header_text,
    st.sampled_from(["²", "١٢٣", "1²", "9" * 40, "é", "Bearer"]),
)
headers = st.dictionaries(
    st.sampled_from(
        [
            "user-agent",
            "x-forwarded-for",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
            "cookie",
            "accept",
            "x-anything",
            "authorization",
            "host",
        ]
    ),
    odd_header_text,
    max_size=5,
)
fields = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)),
    st.one_of(
        st.text(max_size=300),
        st.sampled_from(
            [
                "yes",
                "erase",
                "download",
                "rename",
                "unsubscribe",
                "resubscribe",
                "One-Click",
                "a@example.com",
            ]
        ),
    ),
    max_size=6,
)
bodies = st.one_of(
    fields.map(lambda f: urlencode(f).encode()),
    fields.map(lambda f: json.dumps(f).encode()),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=2000),
    # Shapes that once answered 500: deep nesting (RecursionError), an integer over Python's
    # 4300-digit limit (ValueError), more form fields than parse_qs allows (ValueError).
    st.integers(min_value=1000, max_value=5000).map(lambda depth: b"[" * depth),
    st.integers(min_value=1000, max_value=3000).map(lambda depth: b'{"a":' * depth),
    st.integers(min_value=4301, max_value=6000).map(lambda n: b'{"email": ' + b"7" * n + b"}"),
    st.integers(min_value=21, max_value=200).map(
        lambda n: "&".join(f"f{i}=x" for i in range(n)).encode()
    ),
)


@pytest.fixture
def base_url(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[str]:
    """The app with the API on, on both engines: every JSON route is reachable."""
    app_settings = make_test_settings(
        tmp_path, settings.database_url, api_token="api-token-for-tests"
    )
    with live_server(app_settings) as url:
        yield url


@pytest.fixture
def world(tmp_path: Path, sqlite_settings: Settings, sqlite_engine: Engine) -> Iterator[World]:
    """A live app with one confirmed reader whose tokens the fuzzer may see misused."""
    app_settings = make_test_settings(
        tmp_path, sqlite_settings.database_url, RESEND_WEBHOOK_SECRET=WEBHOOK_SECRET
    )
    with session_scope(sqlite_engine) as session:
        reader = subscriptions.add_subscriber(
            session,
            "reader@example.com",
            name="Reader",
            confirmed=True,
            route=ConsentRoute.CLI,
            now=datetime.now(UTC),
        )
    with live_server(app_settings) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client, sqlite_engine, reader.id or 0


def tokens_for(subscriber_id: int) -> st.SearchStrategy[str]:
    now, fingerprint = datetime.now(UTC), subscriptions.email_hash("reader@example.com")
    confirm = make_token(SECRET, Purpose.CONFIRM, subscriber_id, email_hash=fingerprint, now=now)
    unsubscribe = make_token(
        SECRET, Purpose.UNSUBSCRIBE, subscriber_id, email_hash=fingerprint, now=now
    )
    forged = make_token(
        "another-secret-entirely-0123456789",
        Purpose.PREFERENCES,
        subscriber_id,
        email_hash=fingerprint,
        now=now,
    )
    other_reader = make_token(
        SECRET, Purpose.PREFERENCES, subscriber_id, email_hash="f" * 64, now=now
    )
    return st.one_of(
        st.text(max_size=250),
        st.sampled_from(
            [confirm, forged, other_reader, unsubscribe[:-1] + "A", "", "." * 3, "%00"]
        ),
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_route_answers_500_or_stores_what_it_should_not(
    world: World, data: st.DataObject
) -> None:
    client, engine, reader_id = world
    token = data.draw(tokens_for(reader_id))
    # The confirm token may only be used on /confirm (where the reader is already confirmed) and
    # the unsubscribe token is damaged: no draw can legitimately change the reader.
    path = data.draw(
        st.sampled_from(
            [
                "/",
                "/subscribe",
                "/preferences",
                "/unsubscribe",
                "/webhooks/resend",
                "/api/comparisons",
                "/editor/login",
                "/editor/logout",
                "/editor/issue",
                "/editor/issues/1/send",
                "/editor/issues/x/approve",
                "/editor/accounts/add",
                "/editor/audit",
                "/editor",
                "/editor/readers",
                "/editor/readers/import",
                "/editor/readers.csv",
                f"/editor/readers/{reader_id}/erase",
                f"/editor/readers/{reader_id}/suppress",
                "/editor/readers/x/unsuppress",
                "/editor/issues/1/progress",
                "/editor/issues/1/links.csv",
                "/api/stats",
                "/subscribe/stamp",
                "/issues/",
                f"/confirm/{quote(token, safe='')}",
                f"/data/{quote(token, safe='')}",
                f"/unsubscribe/{quote(token, safe='')}",
                f"/preferences/{quote(token, safe='')}",
            ]
        )
    )
    method = data.draw(st.sampled_from(["GET", "POST", "POST", "PUT"]))
    request_headers = data.draw(headers)
    content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    if content_type:
        request_headers["content-type"] = content_type
    body = data.draw(bodies) if method != "GET" else b""
    wire_headers = {key.encode(): value.encode() for key, value in request_headers.items()}
    response = client.request(method, path, content=body, headers=wire_headers)
    assert response.status_code < 500, (method, path, body[:200], response.text[:500])
    assert "Traceback" not in response.text
    check_store(engine, reader_id)


def check_store(engine: Engine, reader_id: int) -> None:
    with engine.connect() as connection:
        reader = connection.execute(
            text("SELECT email, name, status FROM subscriber WHERE id = :id"), {"id": reader_id}
        ).one()
        others = connection.execute(
            text("SELECT email, consent_route FROM subscriber WHERE id != :id"), {"id": reader_id}
        ).all()
        webhook_events = connection.execute(text("SELECT count(*) FROM webhook_event")).scalar_one()
        desk = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM send_request) + (SELECT count(*) FROM editor_account)"
            )
        ).scalar_one()
    assert tuple(reader) == ("reader@example.com", "Reader", "confirmed")
    assert webhook_events == 0 and desk == 0
    for email, route in others:
        # Only a JSON request with a valid address can add someone (forms need a signed stamp).
        assert route == "api"
        assert subscriptions.normalise_email(email) == email


@pytest.mark.parametrize("body", NASTY_JSON)
def test_nasty_json_is_400_everywhere(base_url: str, body: bytes) -> None:
    """Absurd nesting or a 4300+ digit number is a 400 on every JSON route, never a 500."""
    json_type = {"Content-Type": "application/json"}
    for path in ("/subscribe", "/preferences"):
        assert httpx.post(base_url + path, content=body, headers=json_type).status_code == 400
    api = httpx.post(
        f"{base_url}/api/comparisons",
        content=body,
        headers={**json_type, "Authorization": "Bearer api-token-for-tests"},
    )
    assert api.status_code == 400


# -- the API and the signed webhook, on both engines ------------------------------------------
# PostgreSQL and SQLite refuse different things (NUL, lone surrogates, 64-bit integers, years
# before 1 or after 9999, strings longer than a column): whatever JSON a holder of the token or
# of the webhook secret sends, the answer is a 4xx with a message or a 200, never a 500.

API_TOKEN = "api-token-for-tests"
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["\x00", "a\x00b", "\ud800", "x\udfff", "\u2028", "\ufeff", "[/b]", "=?utf-8?q?=0D=0A?="]
    ),
    st.integers(min_value=0, max_value=6000).map(lambda n: "é" * n),
)
hostile_value: st.SearchStrategy[object] = st.one_of(
    hostile_text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31 - 1, 2**31, -1, 0, 100, 101, 1.5, True, None, [], {}]),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-14:00",
            "1969-12-31T23:59:59Z",
            "2026-11-16T09:00:00+00:00",
            "2026-11-16T09:00:00",
        ]
    ),
)
DOCUMENT_PATHS = [
    ("slug",),
    ("title",),
    ("url",),
    ("published_at",),
    ("tools", 0, "slug"),
    ("tools", 0, "name"),
    ("tools", 0, "category"),
    ("tools", 0, "tagline"),
    ("tools", 0, "description"),
    ("tools", 0, "community_votes"),
    ("tools", 0, "best_for"),
    ("tools", 1, "pricing", "entry"),
    ("tools", 1, "pricing", "text"),
    ("tools", 0, "reviews", "builder", "score"),
    ("tools", 0, "reviews", "skeptic", "verdict"),
    ("tools", 1, "reviews", "founder", "text"),
]


def sample_document() -> dict[str, object]:
    from tests.support.samples import SAMPLES

    document: dict[str, object] = json.loads(SAMPLES[0].read_text())
    return document


def set_path(document: dict[str, object], path: tuple[object, ...], value: object) -> None:
    target: object = document
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]


@pytest.fixture
def both_engines(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[World]:
    """A live app on the test's engine with the API and the webhook switched on."""
    app_settings = make_test_settings(
        tmp_path,
        settings.database_url,
        api_token=API_TOKEN,
        RESEND_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    with live_server(app_settings) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client, engine, 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_api_never_answers_500_on_either_engine(
    both_engines: World, data: st.DataObject
) -> None:
    client, engine, _ = both_engines
    document = sample_document()
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        set_path(document, data.draw(st.sampled_from(DOCUMENT_PATHS)), data.draw(hostile_value))
    body = json.dumps(document).encode()
    answer = client.post(
        "/api/comparisons",
        content=body,
        headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code in (200, 400, 413, 422), (body[:300], answer.text[:500])
    if answer.status_code == 200:  # what was accepted can be read back
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM comparison")).scalar_one() >= 1


webhook_data = st.fixed_dictionaries(
    {},
    optional={
        "email_id": hostile_value,
        "to": st.one_of(hostile_value, st.lists(hostile_text, max_size=3)),
        "bounce": st.one_of(
            hostile_value,
            st.fixed_dictionaries({}, optional={"type": hostile_value, "message": hostile_value}),
        ),
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.one_of(
        st.sampled_from(["email.delivered", "email.bounced", "email.complained"]), hostile_text
    ),
    event_data=webhook_data,
    svix_id=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF), min_size=1, max_size=250
    ),
)
def test_a_signed_webhook_never_answers_500_on_either_engine(
    both_engines: World, kind: str, event_data: dict[str, object], svix_id: str
) -> None:
    client, _engine, _ = both_engines
    body = json.dumps({"type": kind, "data": event_data}).encode()
    stamp = str(int(datetime.now(UTC).timestamp()))
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    signed = svix_id.encode("latin-1") + b"." + stamp.encode() + b"." + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    headers = {
        b"svix-id": svix_id.encode("latin-1"),
        b"svix-timestamp": stamp.encode(),
        b"svix-signature": b"v1," + signature.encode(),
        b"content-type": b"application/json",
    }
    answer = client.post("/webhooks/resend", content=body, headers=headers)
    assert answer.status_code in (200, 400), (body[:300], answer.text[:500])
