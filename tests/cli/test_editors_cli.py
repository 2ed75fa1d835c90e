"""`digest editors ...` through the real console script: passwords from stdin, the last
owner kept, hostile addresses refused, stored text printed without terminal controls."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest import editors
from digest.config import Settings
from digest.db import session_scope
from digest.models import EditorAccount
from tests.support.cli import DIGEST, digest_env

GOOD = "a long enough password"


@pytest.fixture
def env(tmp_path: Path, sqlite_engine: Engine, sqlite_settings: Settings) -> dict[str, str]:
    return digest_env(tmp_path, sqlite_settings.database_url)


def digest(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DIGEST, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_add_list_passwd_remove(tmp_path: Path, env: dict[str, str], sqlite_engine: Engine) -> None:
    added = digest(
        ["editors", "add", "Owner@Example.com", "--owner", "--password-stdin"],
        env,
        tmp_path,
        GOOD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "Added owner@example.com (owner)" in added.stdout
    digest(["editors", "add", "ed@example.com", "--password-stdin"], env, tmp_path, GOOD + "\n")
    listed = digest(["editors", "list"], env, tmp_path)
    assert "owner@example.com" in listed.stdout and "ed@example.com" in listed.stdout
    changed = digest(
        ["editors", "passwd", "ed@example.com", "--password-stdin"],
        env,
        tmp_path,
        "another good password\n",
    )
    assert changed.returncode == 0, changed.stderr
    last = digest(["editors", "remove", "owner@example.com"], env, tmp_path)
    assert last.returncode == 1 and "last owner" in last.stderr
    gone = digest(["editors", "remove", "ed@example.com"], env, tmp_path)
    assert gone.returncode == 0, gone.stderr
    with session_scope(sqlite_engine, read_only=True) as session:
        assert [a.email for a in editors.list_accounts(session)] == ["owner@example.com"]
        actions = [e.action for e in editors.recent_audit(session)]
        actors = {e.actor for e in editors.recent_audit(session)}
    assert actions == ["account-remove", "account-passwd", "account-add", "account-add"]
    assert all(actor.startswith("cli:") for actor in actors)


def test_bad_input_changes_nothing(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine
) -> None:
    short = digest(
        ["editors", "add", "ed@example.com", "--password-stdin"], env, tmp_path, "short\n"
    )
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    hostile = digest(
        ["editors", "add", "\x1b]8;;http://evil\x07ed@example.com", "--password-stdin"],
        env,
        tmp_path,
        GOOD + "\n",
    )
    assert hostile.returncode == 1 and "\x1b" not in hostile.stderr + hostile.stdout
    unknown = digest(
        ["editors", "passwd", "ghost@example.com", "--password-stdin"], env, tmp_path, GOOD + "\n"
    )
    assert unknown.returncode == 1 and "no editor account" in unknown.stderr
    with session_scope(sqlite_engine, read_only=True) as session:
        assert editors.list_accounts(session) == []


def test_stored_addresses_print_without_markup_trouble(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine
) -> None:
    """A row written some other way (an older version, by hand) still lists as it is."""
    with session_scope(sqlite_engine) as session:
        session.add(EditorAccount(email="[bold]x\x1b[2J@example.com", password_hash="x"))
    listed = digest(["editors", "list"], env, tmp_path)
    assert listed.returncode == 0 and "[bold]x@example.com" in listed.stdout
    assert "\x1b" not in listed.stdout
