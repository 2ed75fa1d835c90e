"""The `digest` command, run as a subprocess exactly as operators run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import digest_env, run_digest
from tests.support.samples import SAMPLES


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    environment = digest_env(tmp_path, database_url)
    assert run_digest(["db", "upgrade"], environment, tmp_path).returncode == 0
    return environment


def test_help_lists_the_commands(tmp_path: Path, sqlite_url: str) -> None:
    result = run_digest(["--help"], digest_env(tmp_path, sqlite_url), tmp_path)
    assert result.returncode == 0
    for command in ("db", "comparisons", "serve", "demo"):
        assert command in result.stdout


def test_import_then_list(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_digest(["comparisons", "import", *map(str, SAMPLES)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Imported 2 comparison(s) from 2 file(s): 2 new, 0 updated" in result.stdout
    again = run_digest(["comparisons", "import", str(SAMPLES[0])], env, tmp_path)
    assert "0 new, 1 updated" in again.stdout
    listing = run_digest(["comparisons", "list"], env, tmp_path)
    assert listing.returncode == 0
    assert "claude-files-api-vs-modal-gpu-serverless-inference" in listing.stdout
    assert "4 ship / 0 skip, avg 78.5" in listing.stdout
    later = run_digest(["comparisons", "list", "--since", "2999-01-01T00:00:00Z"], env, tmp_path)
    assert "No comparisons" in later.stdout


def test_bad_file_is_one_clear_line_and_nonzero(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads(SAMPLES[0].read_text())
    data["tools"][0]["reviews"]["builder"]["score"] = 150
    bad.write_text(json.dumps(data))
    result = run_digest(["comparisons", "import", str(SAMPLES[1]), str(bad)], env, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bad.json: tools.0.reviews.builder.score:" in lines[0]
    listing = run_digest(["comparisons", "list"], env, tmp_path)
    assert "No comparisons" in listing.stdout  # all or nothing: the good file did not land


def test_missing_file_and_debug_traceback(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_digest(["comparisons", "import", "nope.json"], env, tmp_path)
    assert result.returncode == 1
    assert "nope.json: No such file or directory" in result.stderr
    debug = run_digest(["--debug", "comparisons", "import", "nope.json"], env, tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_bad_options_are_usage_errors(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_digest(["comparisons", "list", "--since", "2026-11-16T08:00"], env, tmp_path)
    assert result.returncode == 2
    assert "has no time zone" in result.stderr


def test_unmigrated_database_says_what_to_do(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url)
    result = run_digest(["comparisons", "list"], env, tmp_path)
    assert result.returncode == 1
    assert "digest db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_bad_setting_is_reported(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url, DIGEST_TIMEZONE="Nowhere/Land")
    result = run_digest(["comparisons", "list"], env, tmp_path)
    assert result.returncode == 1
    assert "DIGEST_TIMEZONE is invalid" in result.stderr


def test_demo_runs_on_a_fresh_folder(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url)
    del env["DIGEST_DATABASE_URL"]  # the embedded default: subscribers.db in the working folder
    result = run_digest(["demo"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "subscribers.db").exists()
    assert "Sample comparisons loaded: 2" in result.stdout
    assert "Claude Files API vs Modal GPU Serverless Inference" in result.stdout
    assert run_digest(["demo"], env, tmp_path).returncode == 0  # and again
