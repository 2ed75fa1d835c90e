"""`digest issue send|show` as an operator runs them: the real console script in a subprocess."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from digest import catalog
from digest.db import make_engine, session_scope
from digest.demo import sample_documents
from digest.models import Batch, Issue, Subscriber, metadata
from tests.support.cli import digest_env, run_digest
from tests.support.ledger import NOW, add_readers, frozen_issue
from tests.support.outbox import read_outbox
from tests.support.resend_server import FakeResend

AT = ["--now", NOW.isoformat()]


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=NOW - timedelta(days=1))
        add_readers(session, 3)
    engine.dispose()
    return url


def issues_in(url: str) -> list[Issue]:
    engine = make_engine(url)
    with session_scope(engine, read_only=True) as session:
        rows = list(session.exec(select(Issue)).all())
    engine.dispose()
    return rows


def test_dry_run_renders_and_counts_and_stores_nothing(tmp_path: Path, store: str) -> None:
    result = run_digest(["issue", "send", "--dry-run", *AT], digest_env(tmp_path, store), tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "Would send issue #1" in result.stdout
        and "3 confirmed reader(s) in 1 batch" in result.stdout
    )
    assert issues_in(store) == [] and not (tmp_path / "outbox").exists()


def test_test_copy_goes_to_one_address_only(tmp_path: Path, store: str) -> None:
    env = digest_env(tmp_path, store)
    result = run_digest(["issue", "send", "--test-to", "Editor@Example.com", *AT], env, tmp_path)
    assert result.returncode == 0, result.stderr
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and b"To: Editor@example.com" in files[0].read_bytes()
    assert b"[TEST]" in files[0].read_bytes() and issues_in(store) == []


def test_bad_test_address_is_a_clear_error(tmp_path: Path, store: str) -> None:
    result = run_digest(
        ["issue", "send", "--test-to", "nobody", *AT], digest_env(tmp_path, store), tmp_path
    )
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_send_then_resend_then_show(tmp_path: Path, store: str) -> None:
    env = digest_env(tmp_path, store)
    first = run_digest(["issue", "send", *AT], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Issue #1 is sent." in first.stdout and "sent 3" in first.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    again = run_digest(["issue", "send", *AT], env, tmp_path)
    assert again.returncode == 0 and "already sent" in again.stdout
    shown = run_digest(["issue", "show", "1"], env, tmp_path)
    assert shown.returncode == 0 and "sent 3" in shown.stdout and "done 1" in shown.stdout
    listed = run_digest(["issue", "list"], env, tmp_path)
    assert listed.returncode == 0
    assert re.search(r"3\s*│\s*0\s*│\s*0\s*│\s*0\s*│", listed.stdout), listed.stdout
    missing = run_digest(["issue", "show", "99"], env, tmp_path)
    assert missing.returncode == 1 and "no issue #99" in missing.stderr


def test_exit_status_says_a_delivery_failed(tmp_path: Path, store: str) -> None:
    engine = make_engine(store)
    with session_scope(engine) as session:
        reader = session.exec(
            select(Subscriber).where(Subscriber.email == "reader1@example.com")
        ).one()
        reader.email = "reader1-at-example"  # slipped past validation long ago
    engine.dispose()
    with FakeResend() as fake:
        env = digest_env(
            tmp_path,
            store,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
        )
        result = run_digest(["issue", "send", *AT], env, tmp_path)
        shown = run_digest(["issue", "show", "1"], env, tmp_path)
    assert result.returncode == 1 and "Some deliveries failed" in result.stderr
    assert "failed 1" in result.stdout and "sent 2" in result.stdout
    assert "reader1-at-example" in shown.stdout


def test_exit_status_says_the_send_paused_and_a_rerun_resumes(tmp_path: Path, store: str) -> None:
    with FakeResend(quota=0) as fake:
        env = digest_env(
            tmp_path,
            store,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
        )
        paused = run_digest(["issue", "send", *AT], env, tmp_path)
        fake.quota = None
        resumed = run_digest(["issue", "send", *AT], env, tmp_path)
        received = fake.recipients()
    assert paused.returncode == 3 and "Paused" in paused.stderr and "quota" in paused.stderr
    assert resumed.returncode == 0, resumed.stderr
    assert received == {f"reader{n}@example.com": 1 for n in range(3)}


def test_test_copy_of_the_issue_being_sent(tmp_path: Path, store: str) -> None:
    engine = make_engine(store)
    with session_scope(engine) as session:
        frozen_issue(session)
    env = digest_env(tmp_path, store)
    result = run_digest(["issue", "send", "--test-to", "editor@example.com", *AT], env, tmp_path)
    assert result.returncode == 0, result.stderr
    (copy,) = read_outbox(tmp_path / "outbox")
    assert str(copy["Subject"]) == "[TEST] Issue #1: Ship or skip?"
    text = copy.get_body(("plain",))
    assert text is not None and "http://digest.test/unsubscribe\n" in text.get_content()
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(Batch)).all() == []  # the ledger is untouched
    engine.dispose()


def test_an_unfinished_older_issue_is_resumed_first(tmp_path: Path, store: str) -> None:
    engine = make_engine(store)
    with session_scope(engine) as session:
        frozen_issue(session, number=2)  # period 2026-W48, not NOW's week
    engine.dispose()
    env = digest_env(tmp_path, store)
    result = run_digest(["issue", "send", *AT], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Resuming unfinished issue #2 (2026-W48) first" in result.stdout
    assert "Issue #2 is sent." in result.stdout


def test_a_send_as_of_a_future_moment_does_not_wait_for_it(tmp_path: Path) -> None:
    """--now is a logical time: batches must not sit until the wall clock reaches it."""
    future = NOW + timedelta(days=400)
    url = f"sqlite:///{tmp_path / 'future.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=future - timedelta(days=1))
        add_readers(session, 3)
    engine.dispose()
    result = run_digest(
        ["issue", "send", "--now", future.isoformat()],
        digest_env(tmp_path, url),
        tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(read_outbox(tmp_path / "outbox")) == 3
