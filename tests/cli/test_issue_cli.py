"""`digest issue preview|edit|list` and the demo's preview, through the real console script."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest import issues
from digest.config import Settings
from digest.db import session_scope
from tests.support.cli import digest_env, run_digest
from tests.support.issue_data import comparison_doc, import_docs, week_of

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AT = ["--now", "2026-11-23T08:00:00Z"]


@pytest.fixture
def env(tmp_path: Path, sqlite_engine: Engine, sqlite_settings: Settings) -> dict[str, str]:
    return digest_env(tmp_path, sqlite_settings.database_url)


def test_preview_writes_html_and_reports_lint(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine
) -> None:
    import_docs(sqlite_engine, week_of(NOW, 7), now=NOW)
    out = tmp_path / "out" / "issue.html"
    result = run_digest(["issue", "preview", *AT, "--out", str(out)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "Read the full comparison" in html and "[[digest:" not in html
    assert "http://digest.test/unsubscribe" in html
    for expected in ("Issue #1", "Subject:   Claude Files", "Preheader: 7 verdicts", "5 full, 2"):
        assert expected in result.stdout
    for check in ("size:", "links:", "placeholders:", "unsubscribe:"):
        assert f"ok   {check}" in result.stdout
    assert str(out) in result.stdout


def test_preview_text_prints_the_text_part(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine
) -> None:
    import_docs(sqlite_engine, week_of(NOW, 2), now=NOW)
    result = run_digest(["issue", "preview", *AT, "--text"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Weekly AI Tool Verdicts - Issue #1")
    assert "Unsubscribe: http://digest.test/unsubscribe" in result.stdout
    assert "Subject:" in result.stderr and "Subject:" not in result.stdout
    assert not (tmp_path / "preview").exists()


def test_preview_with_nothing_new_says_so(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_digest(["issue", "preview", *AT], env, tmp_path)
    assert result.returncode == 0
    assert "Nothing to preview: no new comparisons were published since 2026-11-16" in result.stdout
    assert not (tmp_path / "preview").exists()


def test_edit_and_list(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    import_docs(sqlite_engine, week_of(NOW, 1), now=NOW)
    assert "No issues yet" in run_digest(["issue", "list"], env, tmp_path).stdout
    edited = run_digest(["issue", "edit", *AT, "--subject", "Hand-picked"], env, tmp_path)
    assert edited.returncode == 0, edited.stderr
    noted = run_digest(["issue", "edit", *AT, "--note", "Short week."], env, tmp_path)
    assert "subject: Hand-picked" in noted.stdout and "note:    Short week." in noted.stdout
    preview = run_digest(["issue", "preview", *AT, "--text"], env, tmp_path)
    assert "From the editor:\nShort week." in preview.stdout
    assert "Subject:   Hand-picked" in preview.stderr
    bad = run_digest(["issue", "edit", *AT, "--subject", "x" * 200], env, tmp_path)
    assert bad.returncode == 1 and "at most 150 characters" in bad.stderr
    with session_scope(sqlite_engine) as session:
        issue = issues.claim_issue(session, sqlite_settings, now=NOW)
        issues.freeze_issue(session, sqlite_settings, issue, now=NOW)
    listing = run_digest(["issue", "list"], env, tmp_path).stdout
    assert "2026-W48" in listing and "sending" in listing and "Hand-picked" in listing


def test_demo_writes_the_preview(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url)
    result = run_digest(["demo"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "preview" / "next-issue.html"
    assert f"Preview of the next issue: {path}" in result.stdout.replace("\n", "")
    html = path.read_text()
    assert "Claude Files API" in html and "Read the full comparison" in html


def test_an_absurd_issue_number_is_a_clear_not_found(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    """A number no row can have (SQLite: OverflowError; PostgreSQL: out of range) is not found."""
    env = digest_env(tmp_path, settings.database_url)
    result = run_digest(["issue", "show", "99999999999999999999"], env, tmp_path)
    assert result.returncode == 1
    assert "not found" in result.stderr and "OverflowError" not in result.stderr


def test_preview_dry_run_send_edit_and_demo_give_one_answer(
    tmp_path: Path, sqlite_url: str
) -> None:
    """After issue #1 went out, a comparison published now: every command says when #2 goes
    out, none promises an issue the send refuses, and a second demo says the same."""
    env = digest_env(tmp_path, sqlite_url, DIGEST_TIMEZONE="Europe/Berlin")
    first_run = ["--now", "2026-11-30T08:00:00Z"]  # Monday 09:00 in Berlin, week 2026-W49
    assert run_digest(["demo", *first_run], env, tmp_path).returncode == 0
    sent = len(list((tmp_path / "outbox").glob("*.eml")))
    later = ["--now", "2026-11-30T11:00:00Z"]
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps(comparison_doc(40, datetime(2026, 11, 30, 10, 30, tzinfo=UTC))))
    assert run_digest(["comparisons", "import", str(fresh), *later], env, tmp_path).returncode == 0
    expected = "#2 goes out Mon 7 Dec 08:00 Europe/Berlin with these 1 comparisons"
    outputs = {
        name: run_digest([*command, *later], env, tmp_path)
        for name, command in {
            "preview": ["issue", "preview"],
            "dry-run": ["issue", "send", "--dry-run"],
            "send": ["issue", "send"],
            "edit": ["issue", "edit", "--note", "Hello"],
            "preview again": ["issue", "preview"],
            "demo": ["demo"],
            "demo again": ["demo"],
        }.items()
    }
    for name, result in outputs.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert expected in result.stdout, (name, result.stdout)
        assert "2026-W49" not in result.stdout.replace("#1 (2026-W49)", ""), (name, result.stdout)
    assert "Issue #2 (2026-W50)" in outputs["edit"].stdout
    assert "Issue #2 (2026-W50)" in outputs["preview again"].stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == sent  # nothing more went out
