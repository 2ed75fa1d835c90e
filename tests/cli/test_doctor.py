"""`digest doctor` and the check before a send: a broken transport is found before anything
changes, and the doctor says, one line per check, what is ready and what is not."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import check_database, make_engine, session_scope
from digest.models import Batch, Issue
from tests.support.cli import digest_env, run_digest
from tests.support.ledger import NOW, add_readers
from tests.support.live_server import free_port
from tests.support.resend_server import FakeResend
from tests.support.samples import load, sample_documents
from tests.support.served import digest_serve
from tests.support.smtp_inbox import Inbox, start

AT = ["--now", NOW.isoformat()]
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"w" * 24).decode()
CHECKS = ("settings", "database", "schema", "transport", "base URL", "healthz", "webhooks")


def lines_by_check(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        outcome, _, rest = line.partition("  ")
        name = rest.split(":", 1)[0].strip()
        if name in CHECKS:
            found[name] = outcome.strip()
    return found


def frozen_issues(url: str) -> list[Issue]:
    engine = make_engine(url)
    with session_scope(engine, read_only=True) as session:
        rows = list(session.exec(select(Issue)).all()) + list(session.exec(select(Batch)).all())
    engine.dispose()
    return rows  # type: ignore[return-value]


@pytest.fixture
def week(engine: Engine) -> Engine:
    load(engine, sample_documents(), now=NOW - timedelta(days=1))
    with session_scope(engine) as session:
        add_readers(session, 3)
    return engine


def test_resend_without_a_key_changes_nothing(
    tmp_path: Path, settings: Settings, week: Engine
) -> None:
    env = digest_env(tmp_path, settings.database_url, DIGEST_TRANSPORT="resend")
    result = run_digest(["issue", "send", *AT], env, tmp_path)
    assert result.returncode == 1 and "RESEND_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert frozen_issues(settings.database_url) == []


def test_a_refused_key_or_an_absent_provider_changes_nothing(
    tmp_path: Path, settings: Settings, week: Engine
) -> None:
    with FakeResend() as fake:
        wrong = digest_env(
            tmp_path,
            settings.database_url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY="re_wrong",
            RESEND_API_URL=fake.url,
        )
        refused = run_digest(["issue", "send", *AT], wrong, tmp_path)
        assert fake.accepted == []
    assert refused.returncode == 1 and "refused" in refused.stderr
    assert "invalid_api_key" in refused.stderr and "Nothing was changed" in refused.stderr
    absent = {**wrong, "RESEND_API_URL": f"http://127.0.0.1:{free_port()}"}
    unreachable = run_digest(["issue", "send", *AT], absent, tmp_path)
    assert unreachable.returncode == 3 and "cannot be reached" in unreachable.stderr
    assert frozen_issues(settings.database_url) == []


def test_doctor_passes_a_ready_installation(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    with FakeResend() as fake:
        env = digest_env(
            tmp_path,
            database_url,
            DIGEST_BASE_URL=f"http://127.0.0.1:{port}",
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            RESEND_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        assert run_digest(["db", "upgrade"], env, tmp_path).returncode == 0
        with digest_serve(env, tmp_path, port=port):
            result = run_digest(["doctor"], env, tmp_path)
        assert fake.accepted == [] and fake.probes == 1
    assert result.returncode == 0, result.stdout
    found = lines_by_check(result.stdout)
    assert set(found) == set(CHECKS), result.stdout
    assert found["base URL"] == "warn"  # http is fine outside production
    assert {found[name] for name in CHECKS if name != "base URL"} == {"ok"}, result.stdout


def test_doctor_fails_each_broken_part_on_its_own_line(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(
        tmp_path,
        sqlite_url,
        DIGEST_BASE_URL=f"http://127.0.0.1:{free_port()}",
        DIGEST_TRANSPORT="resend",
        RESEND_API_KEY="re_wrong",
        RESEND_API_URL=f"http://127.0.0.1:{free_port()}",
    )
    result = run_digest(["doctor"], env, tmp_path)
    assert result.returncode == 1
    found = lines_by_check(result.stdout)
    assert found == {
        "settings": "ok",
        "database": "FAIL",  # the SQLite file does not exist (and the doctor did not create it)
        "schema": "skip",
        "transport": "FAIL",
        "base URL": "warn",
        "healthz": "FAIL",
        "webhooks": "FAIL",
    }, result.stdout
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()
    assert "Traceback" not in result.stdout + result.stderr


def test_doctor_checks_smtp_and_a_never_migrated_database(
    tmp_path: Path, database_url: str
) -> None:
    reached = make_engine(database_url)
    check_database(reached)  # the database exists (a SQLite file is created), nothing in it
    reached.dispose()
    inbox = Inbox()
    controller = start(inbox)
    try:
        env = digest_env(
            tmp_path,
            database_url,
            DIGEST_TRANSPORT="smtp",
            DIGEST_SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
        )
        result = run_digest(["doctor"], env, tmp_path)
    finally:
        controller.stop()
    found = lines_by_check(result.stdout)
    assert result.returncode == 1
    assert found["transport"] == "ok" and "answered EHLO" in result.stdout
    assert found["database"] == "ok" and found["schema"] == "FAIL"
    assert "never migrated" in result.stdout and inbox.messages == []


def test_doctor_with_bad_settings_says_which(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url, DIGEST_TIMEZONE="Mars/Olympus")
    result = run_digest(["doctor"], env, tmp_path)
    found = lines_by_check(result.stdout)
    assert result.returncode == 1 and found["settings"] == "FAIL"
    assert "DIGEST_TIMEZONE" in result.stdout and set(found.values()) == {"FAIL", "skip"}
