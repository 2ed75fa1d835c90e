"""`digest serve` and `digest scheduler` as an operator starts them, on a fresh database."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.cli import digest_env, run_digest
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
