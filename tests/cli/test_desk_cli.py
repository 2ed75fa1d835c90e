"""`digest issue approve|hold|pause|resume N` and `digest worker`, through the real console
script: audited as cli:<user>, refusals exit 1 with one clear line, the worker sends what
was requested and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from digest import delivery, editors
from digest.config import Settings
from digest.db import session_scope
from digest.models import Issue, IssueStatus
from tests.support.cli import DIGEST, digest_env, run_digest
from tests.support.issue_data import import_docs, week_of
from tests.support.ledger import add_readers


@pytest.fixture
def env(tmp_path: Path, sqlite_engine: Engine, sqlite_settings: Settings) -> dict[str, str]:
    now = datetime.now(UTC)
    import_docs(sqlite_engine, week_of(now, 2), now=now)
    with session_scope(sqlite_engine) as session:
        add_readers(session, 3)
    return digest_env(tmp_path, sqlite_settings.database_url)


def test_approve_hold_and_refusals(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine
) -> None:
    approved = run_digest(["issue", "approve", "1"], env, tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "Issue #1 approved" in approved.stdout
    held = run_digest(["issue", "hold", "1"], env, tmp_path)
    assert held.returncode == 0 and "held" in held.stdout
    for args, message in (
        (["issue", "approve", "7"], "no issue #7"),
        (["issue", "approve", "99999999999"], "no issue #"),
        (["issue", "pause", "1"], "hold it instead"),
        (["issue", "resume", "1"], "only a paused or unfinished send resumes"),
    ):
        refused = run_digest(args, env, tmp_path)
        assert refused.returncode == 1 and message in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    with session_scope(sqlite_engine, read_only=True) as session:
        log = editors.recent_audit(session)
    assert [e.action for e in log] == ["hold", "approve"]
    assert all(e.actor.startswith("cli:") for e in log)


def test_pause_then_resume_through_the_worker(
    tmp_path: Path, env: dict[str, str], sqlite_engine: Engine, sqlite_settings: Settings
) -> None:
    with session_scope(sqlite_engine) as session:
        issue = delivery.prepare_issue(session, sqlite_settings, now=datetime.now(UTC))
    assert run_digest(["issue", "pause", "1"], env, tmp_path).returncode == 0
    by_hand = run_digest(["issue", "send"], env, tmp_path)
    assert by_hand.returncode == 3 and "digest issue resume 1" in by_hand.stderr
    idle = run_digest(["worker", "--once"], env, tmp_path)
    assert idle.returncode == 0, idle.stderr
    assert not list(sqlite_settings.outbox_dir.glob("*.eml"))
    resumed = run_digest(["issue", "resume", "1"], env, tmp_path)
    assert resumed.returncode == 0 and "resume requested" in resumed.stdout
    worked = run_digest(["worker", "--once"], env, tmp_path)
    assert worked.returncode == 0, worked.stderr
    assert "issue #1: sent" in worked.stdout
    assert len(list(sqlite_settings.outbox_dir.glob("*.eml"))) == 3
    with session_scope(sqlite_engine, read_only=True) as session:
        done = session.get(Issue, issue.id)
    assert done is not None and done.status == IssueStatus.SENT


def test_the_worker_stops_cleanly_on_sigterm(tmp_path: Path, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [DIGEST, "worker", "--poll", "0.2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        line = ""
        while "started" not in line and datetime.now(UTC) < deadline:
            line = process.stderr.readline()  # blocks until the worker says it runs
            if not line and process.poll() is not None:
                break
        assert "started" in line, line
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)
        rest = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert status == 0 and "worker stopped" in rest


def test_the_doctor_warns_when_review_has_nobody_to_remind(tmp_path: Path) -> None:
    from digest.cli.doctor import Outcome, review_finding
    from tests.support.settings import make_test_settings

    url = f"sqlite:///{tmp_path / 'd.db'}"
    auto = review_finding(make_test_settings(tmp_path, url))
    lonely = review_finding(make_test_settings(tmp_path, url, review="required"))
    told = review_finding(
        make_test_settings(tmp_path, url, review="required", editor_emails="a@example.com")
    )
    assert auto.outcome is Outcome.OK and told.outcome is Outcome.OK
    assert lonely.outcome is Outcome.WARN and "DIGEST_EDITOR_EMAILS" in lonely.detail


@pytest.mark.parametrize(
    "value", ["a@example.com\r\nBcc: x@example.com", "Ann <a@example.com>", "not-an-address"]
)
def test_editor_emails_must_be_plain_addresses(tmp_path: Path, value: str) -> None:
    from digest.errors import ConfigError
    from tests.support.settings import make_test_settings

    with pytest.raises(ConfigError, match="DIGEST_EDITOR_EMAILS"):
        make_test_settings(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", editor_emails=value)
