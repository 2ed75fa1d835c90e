"""CSV import/export findings of the review, through the real `digest` CLI on both engines."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest.config import Settings
from tests.helpers.cli import digest_env, run_digest


@pytest.fixture
def env(tmp_path: Path, settings: Settings, engine: Engine) -> dict[str, str]:
    return digest_env(tmp_path, settings.database_url)


def digest(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_digest(list(args), env, tmp_path)


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM subscriber")).scalar_one())


def test_export_defuses_a_formula_in_the_address(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    evil = "=cmd|'/Ccalc'!A0@example.com"
    added = digest(tmp_path, env, "subscribers", "add", evil, "--confirmed")
    assert added.returncode == 0, added.stderr
    exported = digest(tmp_path, env, "subscribers", "export")
    assert exported.returncode == 0, exported.stderr
    row = next(csv.DictReader(io.StringIO(exported.stdout)))
    assert row["email"] == "'" + evil.lower() or row["email"].startswith("'=")
    for value in row.values():
        assert value[:1] not in ("=", "+", "-", "@")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        # an unclosed quote would swallow every following row into one name
        ('email,name\na@example.com,"Ann\nb@example.com,Bob\nc@example.com,Cy\n', "line"),
        # a closed quote across lines hides a row inside a name
        ('email,name\na@example.com,"Ann\nb@example.com"\nc@example.com,Cy\n', "several lines"),
        ("email,name,email\na@example.com,Ann,b@example.com\n", "twice"),
        ("Email,EMAIL\na@example.com,b@example.com\n", "twice"),
    ],
)
def test_import_refuses_rows_that_would_be_lost(
    tmp_path: Path, env: dict[str, str], engine: Engine, content: str, fragment: str
) -> None:
    source = tmp_path / "list.csv"
    source.write_text(content)
    result = digest(tmp_path, env, "subscribers", "import", str(source), "--confirmed")
    assert result.returncode == 1
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert count(engine) == 0


def test_import_refuses_a_huge_file_without_reading_it_all(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    result = digest(tmp_path, env, "subscribers", "import", "/dev/zero")
    assert result.returncode == 1
    assert "larger than 10 MiB" in result.stderr
    assert count(engine) == 0


def test_an_absurd_issue_number_is_a_clear_not_found(
    tmp_path: Path, env: dict[str, str], engine: Engine
) -> None:
    result = digest(tmp_path, env, "issue", "show", "99999999999999999999")
    assert result.returncode == 1
    assert "not found" in result.stderr and "OverflowError" not in result.stderr
