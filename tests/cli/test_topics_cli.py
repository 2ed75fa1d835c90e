"""`digest topics list|rename|merge` and `digest issue preview --topics`, as operators run them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import digest_env, run_digest
from tests.support.issue_data import comparison_doc

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    environment = digest_env(tmp_path, sqlite_url)
    assert run_digest(["db", "upgrade"], environment, tmp_path).returncode == 0
    docs = [
        comparison_doc(1, NOW, categories=("Developer Tools", "Design")),
        comparison_doc(2, NOW, categories=("UX Design", "UX Design")),
    ]
    path = tmp_path / "docs.json"
    path.write_text(json.dumps(docs), encoding="utf-8")
    imported = run_digest(["comparisons", "import", str(path)], environment, tmp_path)
    assert imported.returncode == 0, imported.stderr
    return environment


def test_list_rename_and_merge(tmp_path: Path, env: dict[str, str]) -> None:
    listing = run_digest(["topics", "list"], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    for slug in ("design", "developer-tools", "ux-design"):
        assert slug in listing.stdout
    renamed = run_digest(
        ["topics", "rename", "developer-tools", "[bold]Dev[/bold] tools"], env, tmp_path
    )
    assert renamed.returncode == 0, renamed.stderr
    assert "Renamed: [bold]Dev[/bold] tools (slug developer-tools)" in renamed.stdout
    merged = run_digest(["topics", "merge", "UX Design", "design"], env, tmp_path)
    assert merged.returncode == 0 and "into Design: 0 reader choice(s) moved" in merged.stdout
    after = run_digest(["topics", "list"], env, tmp_path).stdout
    assert "ux-design" not in after and "ux design" in after  # its category now maps to Design
    assert "[bold]Dev[/bold] tools" in after


def test_mistakes_are_one_clear_line(tmp_path: Path, env: dict[str, str]) -> None:
    unknown = run_digest(["topics", "rename", "robots", "Robotics"], env, tmp_path)
    assert unknown.returncode == 1 and "there is no topic 'robots'" in unknown.stderr
    clash = run_digest(["topics", "rename", "design", "UX design"], env, tmp_path)
    assert clash.returncode == 1 and "merge into it instead" in clash.stderr
    itself = run_digest(["topics", "merge", "design", "Design"], env, tmp_path)
    assert itself.returncode == 1 and "same topic" in itself.stderr
    assert "Traceback" not in unknown.stderr + clash.stderr + itself.stderr


def test_preview_a_topic_variant(tmp_path: Path, env: dict[str, str]) -> None:
    when = ["--now", NOW.isoformat()]
    design = run_digest(
        ["issue", "preview", "--text", "--topics", "ux-design", "--name", "Ann", *when],
        env,
        tmp_path,
    )
    assert design.returncode == 0, design.stderr
    assert "Picked for your topics: UX Design." in design.stdout
    assert "\nHi Ann,\n" in design.stdout
    assert "tool-a-2-vs-tool-b-2" in design.stdout and "tool-a-1-vs" not in design.stdout
    bad = run_digest(["issue", "preview", "--topics", "nope", *when], env, tmp_path)
    assert bad.returncode == 1 and "'nope'" in bad.stderr
