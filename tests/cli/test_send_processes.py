"""`digest issue send --processes N`: N sender processes on one issue (SQLite and PostgreSQL),
every reader mailed once; SIGTERM to the parent stops every child cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.db import make_engine, session_scope
from digest.models import Batch, BatchStatus, Issue, IssueStatus, metadata
from tests.support.cli import DIGEST, digest_env, run_digest
from tests.support.ledger import add_readers, frozen_issue
from tests.support.resend_server import FakeResend

READERS = 200


def send_env(tmp_path: Path, url: str, fake: FakeResend) -> dict[str, str]:
    return digest_env(
        tmp_path,
        url,
        DIGEST_TRANSPORT="resend",
        RESEND_API_KEY=fake.api_key,
        RESEND_API_URL=fake.url,
        DIGEST_RATE_LIMIT="1000",
        DIGEST_BATCH_SIZE="10",
        DIGEST_SEND_WORKERS="2",
        DIGEST_SECRET_KEY="k" * 40,
    )


def seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_readers(session, READERS)
        frozen_issue(session)


@pytest.mark.timeout(300)
def test_two_processes_mail_every_reader_once(
    tmp_path: Path, engine: Engine, database_url: str
) -> None:
    seed(engine)
    with FakeResend(delay=0.05) as fake:
        done = run_digest(
            ["issue", "send", "--processes", "2"],
            send_env(tmp_path, database_url, fake),
            tmp_path,
            timeout=240,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "with 2 processes" in done.stdout and "is sent" in done.stdout
        assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(READERS)}
        assert len(fake.key_requests) == READERS // 10
        assert set(fake.key_requests.values()) == {1}  # no key sent twice
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(Issue.status)).one() == IssueStatus.SENT


@pytest.mark.timeout(300)
def test_sigterm_stops_every_child_cleanly_and_a_rerun_finishes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    seed(engine)
    with FakeResend(delay=0.4) as fake:
        env = send_env(tmp_path, url, fake)
        parent = subprocess.Popen(
            [DIGEST, "issue", "send", "--processes", "2"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own group: only the parent hears the signal
        )
        deadline = time.monotonic() + 180
        while fake.in_flight == 0 and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        parent.send_signal(signal.SIGTERM)
        _, err = parent.communicate(timeout=120)
        assert parent.returncode == 130, err.decode()
        senders = ["pgrep", "-s", str(parent.pid), "-f", "spawn_main"]  # not the resource tracker
        left = subprocess.run(senders, capture_output=True, text=True, check=False)
        assert left.stdout.strip() == ""  # no sender outlived the parent
        with session_scope(engine, read_only=True) as session:
            leased = session.exec(select(Batch).where(Batch.status == BatchStatus.LEASED)).all()
        assert leased == []  # in-flight batches were recorded, not abandoned
        rerun = run_digest(["issue", "send", "--processes", "2"], env, tmp_path, timeout=240)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(READERS)}
    engine.dispose()


@pytest.mark.parametrize("value", ["0", "33", "many"])
def test_a_bad_process_count_is_a_clear_error(tmp_path: Path, value: str) -> None:
    env = digest_env(tmp_path, f"sqlite:///{tmp_path / 'subscribers.db'}")
    done = run_digest(["issue", "send", "--processes", value], env, tmp_path)
    assert done.returncode == 2
    assert "--processes" in done.stderr and "Traceback" not in done.stderr
