"""The scheduler dies while freezing and enqueueing, then two schedulers race across the end
of British summer time (Sunday 25 October 2026: 01:30 happens twice). On both engines: one
issue, frozen once, every reader enqueued once and mailed once.

The kill is aimed, not guessed: the test watches the store until the scheduler is inside its
first write transaction (the claim + freeze + enqueue of the week's issue) and SIGKILLs it
there. SQLite: another connection cannot take the write lock. PostgreSQL: the scheduler's
session (tagged with an application_name) has a transaction id.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import catalog
from digest.db import make_engine, session_scope
from digest.demo import sample_documents
from digest.models import Delivery, Issue, IssueComparison, IssueStatus, metadata
from tests.support.cli import DIGEST, digest_env
from tests.support.ledger import add_readers
from tests.support.resend_server import FakeResend

READERS = 2000
KILLS = 3
FIRST_0130 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
SECOND_0130 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT, an hour later


def in_write_transaction(kind: str, url: str, app: str) -> bool:
    if kind == "sqlite":
        probe = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True  # someone holds the write lock
        finally:
            probe.close()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :app AND backend_xid IS NOT NULL"
                ),
                {"app": app},
            ).scalar_one()
        return bool(found)
    finally:
        engine.dispose()


def kill_inside_the_freeze(kind: str, url: str, env: dict[str, str], cwd: Path, app: str) -> bool:
    """Start a scheduler and SIGKILL it inside its first write; False if it finished first."""
    process = subprocess.Popen(
        [DIGEST, "scheduler", "--once", "--now", (FIRST_0130 + timedelta(minutes=1)).isoformat()],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if in_write_transaction(kind, url, app):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.kill()
    process.wait()
    return False


def race(at: datetime, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    moment = (at + timedelta(minutes=1)).isoformat()
    return subprocess.Popen(
        [DIGEST, "scheduler", "--once", "--now", moment],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def ledger(engine: Engine) -> tuple[list[Issue], int, int]:
    with session_scope(engine, read_only=True) as session:
        issues = list(session.exec(select(Issue)).all())
        deliveries = session.exec(select(func.count()).select_from(Delivery)).one()
        cards = session.exec(select(func.count()).select_from(IssueComparison)).one()
    return issues, int(deliveries), int(cards)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_killed_while_freezing_then_two_schedulers_across_dst_send_once(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    base: str = request.getfixturevalue(f"{kind}_url")
    app = f"sched_{uuid.uuid4().hex[:8]}"
    url = base if kind == "sqlite" else f"{base}&application_name={app}"
    engine = make_engine(base)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=FIRST_0130 - timedelta(days=1))
        add_readers(session, READERS)
    with FakeResend() as fake:
        env = digest_env(
            tmp_path, url, DIGEST_TRANSPORT="resend", RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url, DIGEST_RATE_LIMIT="1000", DIGEST_SECRET_KEY="k" * 40,
            DIGEST_SEND_SCHEDULE="sun 01:30", DIGEST_TIMEZONE="Europe/London",
        )  # fmt: skip
        kills = 0
        for _ in range(KILLS):
            kills += kill_inside_the_freeze(kind, url, env, tmp_path, app)
            issues, deliveries, _ = ledger(engine)
            frozen = [i for i in issues if i.frozen_at is not None]
            assert deliveries in (0, READERS) and bool(frozen) == bool(deliveries)  # all or none
        assert kills >= 1
        racers = [race(at, env, tmp_path) for at in (FIRST_0130, SECOND_0130)]
        outputs = [p.communicate(timeout=180) for p in racers]
        assert [p.returncode for p in racers] == [0, 0], outputs
        received = fake.recipients()
    issues, deliveries, cards = ledger(engine)
    engine.dispose()
    assert len(issues) == 1 and issues[0].status == IssueStatus.SENT, outputs
    assert issues[0].period == "2026-W43" and deliveries == READERS
    assert cards == len(sample_documents())  # frozen once: one card per comparison
    assert received == {f"reader{n}@example.com": 1 for n in range(READERS)}
