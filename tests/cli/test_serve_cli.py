"""`digest serve` and `digest scheduler` as an operator starts them, on a fresh database."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.support.cli import digest_env, run_digest
from tests.support.outbox import read_outbox
from tests.support.served import digest_serve

PRODUCTION = {
    "DIGEST_ENV": "production",
    "DIGEST_SECRET_KEY": "k" * 48,
    "DIGEST_BASE_URL": "https://news.aitoolverdicts.com",
    "DIGEST_FROM_EMAIL": "Weekly AI Tool Verdicts <digest@aitoolverdicts.com>",
    "DIGEST_POSTAL_ADDRESS": "Weekly AI Tool Verdicts, 12 Rue de la Paix, 75002 Paris",
}


def test_production_refuses_to_serve_a_database_never_migrated(
    tmp_path: Path, database_url: str
) -> None:
    env = digest_env(tmp_path, database_url, **PRODUCTION)
    for command in (["serve"], ["scheduler", "--once"]):
        result = run_digest(command, env, tmp_path, timeout=60)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "never migrated" in result.stderr and "digest db upgrade" in result.stderr
        assert "Traceback" not in result.stderr


def test_development_migrates_then_serves(tmp_path: Path, database_url: str) -> None:
    env = digest_env(tmp_path, database_url)
    with digest_serve(env, tmp_path) as served:
        health = httpx.get(f"{served.url}/healthz", timeout=10)
        front = httpx.get(f"{served.url}/", timeout=10)
        output = served.output()
    assert health.status_code == 200, output
    assert health.json()["schema"] == "current"
    assert front.status_code == 200
    assert "migrated the database" in output and "Traceback" not in output


def test_links_follow_the_port_being_served(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url, DIGEST_SUBSCRIBE_MIN_SECONDS="0")
    del env["DIGEST_BASE_URL"]  # as after `make demo`: nothing configured
    assert run_digest(["db", "upgrade"], env, tmp_path).returncode == 0
    with digest_serve(env, tmp_path) as served:
        page = httpx.get(f"{served.url}/", timeout=10).text
        archive = httpx.get(f"{served.url}/issues", timeout=10).text
        stamp = re.search(r'name="form_stamp" value="([^"]+)"', page)
        assert stamp is not None
        form = {"email": "new@example.com", "name": "", "website": "", "form_stamp": stamp[1]}
        assert httpx.post(f"{served.url}/subscribe", data=form, timeout=10).status_code == 200
        mail = _wait_for_mail(tmp_path / "outbox")
        output = served.output()
    assert f'href="{served.url}/issues"' in page and f'href="{served.url}/feed.xml"' in archive
    assert ":8000" not in page + archive
    assert f"{served.url}/confirm/" in mail and ":8000" not in mail
    assert f"Links point at {served.url}" in output


def test_a_base_url_that_differs_from_the_port_is_said(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url, DIGEST_BASE_URL="http://127.0.0.1:8000")
    assert run_digest(["db", "upgrade"], env, tmp_path).returncode == 0
    with digest_serve(env, tmp_path) as served:
        page = httpx.get(f"{served.url}/", timeout=10).text
        output = served.output()
    assert 'href="http://127.0.0.1:8000/issues"' in page  # set on purpose: kept
    assert "DIGEST_BASE_URL=http://127.0.0.1:8000" in output and served.url in output


def _wait_for_mail(folder: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not list(folder.glob("*.eml")):
        assert time.monotonic() < deadline, "no confirmation email arrived"
        time.sleep(0.05)
    (only,) = read_outbox(folder)
    body = only.get_body(("plain",))
    assert body is not None
    return str(body.get_content())
