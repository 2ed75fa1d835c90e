"""POST /api/comparisons and /healthz over real HTTP against the app served by uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest import migrate
from digest.config import Settings
from tests.support.live_server import live_server
from tests.support.samples import SAMPLES
from tests.support.settings import make_test_settings

TOKEN = "api-token-for-tests"


@pytest.fixture
def api_settings(tmp_path: Path, settings: Settings, engine: Engine) -> Settings:
    return make_test_settings(
        tmp_path, settings.database_url, api_token=TOKEN, api_max_body_bytes=64 * 1024
    )


@pytest.fixture
def base_url(api_settings: Settings) -> Iterator[str]:
    with live_server(api_settings) as url:
        yield url


def post(base_url: str, body: bytes, token: str | None = TOKEN, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.setdefault("Content-Type", "application/json")
    return httpx.post(f"{base_url}/api/comparisons", content=body, headers=headers, timeout=10)


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_import_and_reimport(base_url: str, engine: Engine) -> None:
    body = SAMPLES[0].read_bytes()
    first = post(base_url, body)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 1, "updated": 0, "slugs": [json.loads(body)["slug"]]}
    second = post(base_url, body)
    assert second.json()["updated"] == 1
    assert count(engine, "comparison") == 1


@pytest.mark.parametrize("token", [None, "wrong-token", "x"])
def test_missing_or_wrong_token_is_401(base_url: str, engine: Engine, token: str | None) -> None:
    response = post(base_url, SAMPLES[0].read_bytes(), token=token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text
    assert count(engine, "comparison") == 0


def test_other_auth_schemes_are_refused(base_url: str) -> None:
    response = post(base_url, SAMPLES[0].read_bytes(), token=None, Authorization=f"Basic {TOKEN}")
    assert response.status_code == 401


def test_body_over_limit_is_413(base_url: str, engine: Engine) -> None:
    data = json.loads(SAMPLES[0].read_text())
    data["tools"][0]["description"] = "x" * 70_000
    response = post(base_url, json.dumps(data).encode())
    assert response.status_code == 413
    assert count(engine, "comparison") == 0


def test_streamed_body_over_limit_is_413(base_url: str) -> None:
    """A chunked body with no Content-Length is cut off at the limit, not read whole."""

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 4096

    response = httpx.post(
        f"{base_url}/api/comparisons",
        content=chunks(),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid UTF-8 JSON"),
        (b"\xff\xfe", 400, "not valid UTF-8 JSON"),
        (b'{"slug": "a-vs-b"}', 422, "title"),
        (b"[]", 200, ""),
    ],
)
def test_bad_bodies(base_url: str, engine: Engine, body: bytes, status: int, fragment: str) -> None:
    response = post(base_url, body)
    assert response.status_code == status
    assert fragment in response.text
    assert count(engine, "comparison") == 0


def test_validation_problems_name_the_field(base_url: str, engine: Engine) -> None:
    data = json.loads(SAMPLES[0].read_text())
    data["tools"][1]["reviews"]["futurist"]["verdict"] = "maybe"
    response = post(base_url, json.dumps({"comparisons": [data]}).encode())
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert problems[0]["loc"] == "comparisons.0.tools.1.reviews.futurist.verdict"
    assert response.json()["error"].startswith("request: ")


def test_api_disabled_without_token(tmp_path: Path, settings: Settings, engine: Engine) -> None:
    with live_server(settings) as url:
        response = post(url, SAMPLES[0].read_bytes(), token="anything")
    assert response.status_code == 401
    assert "DIGEST_API_TOKEN" in response.json()["error"]


def test_healthz(base_url: str) -> None:
    response = httpx.get(f"{base_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "schema": "unversioned"}


def test_healthz_reports_unreachable_database(tmp_path: Path) -> None:
    broken = make_test_settings(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with live_server(broken) as url:
        response = httpx.get(f"{url}/healthz", timeout=20)
    assert response.status_code == 503
    assert "nobody" not in response.text


def test_empty_api_token_env_refuses_an_empty_bearer(
    tmp_path: Path, settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty DIGEST_API_TOKEN disables the API; an empty bearer never matches it."""
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


def test_control_character_in_a_comparison_is_a_field_error(base_url: str, engine: Engine) -> None:
    """Control characters in a comparison are refused with the field that holds them."""
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


def test_openapi_schema_is_not_public(base_url: str) -> None:
    assert httpx.get(f"{base_url}/openapi.json").status_code == 404


def test_healthz_reports_a_database_never_migrated(tmp_path: Path, database_url: str) -> None:
    settings = make_test_settings(tmp_path, database_url)
    with live_server(settings) as url:
        missing = httpx.get(f"{url}/healthz", timeout=20)
        migrate.upgrade(database_url)
        current = httpx.get(f"{url}/healthz", timeout=20)
    assert missing.status_code == 503
    assert missing.json() == {"status": "error", "database": "ok", "schema": "missing"}
    assert current.status_code == 200
    assert current.json() == {"status": "ok", "database": "ok", "schema": "current"}


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("published_at", "0001-01-01T00:00:00+01:00", "published_at"),
        ("published_at", "0001-01-01T00:00:00Z", "published_at"),
        ("published_at", "9999-12-31T23:59:59-01:00", "published_at"),
        ("community_votes", 2**31, "tools.0.community_votes"),
        ("community_votes", 2**63, "tools.0.community_votes"),
        ("title", "lone \udfff surrogate", "title"),
    ],
)
def test_values_the_database_cannot_hold_are_field_errors(
    base_url: str, engine: Engine, field: str, value: object, where: str
) -> None:
    """Year 1 (SQLite) and votes beyond 32 bits (PostgreSQL) once answered 500."""
    document = json.loads(SAMPLES[0].read_text())
    if field.startswith("community"):
        document["tools"][0][field] = value
    else:
        document[field] = value
    answer = post(base_url, json.dumps(document).encode())
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["loc"] == where
    assert count(engine, "comparison") == 0
