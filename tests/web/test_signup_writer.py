"""The signup writer stores many requests per transaction, each answered as if alone; on both
engines. `digest worker` and `digest scheduler` lower their own CPU priority."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput
from digest.models import ConsentRoute, ReaderRequest, RequestKind
from digest.readers.signup import Answer, Receipt, SignupRequest
from digest.web.signup_writer import SignupWriter
from tests.support.readers import NOW
from tests.support.settings import make_test_settings


def request(email: str, number: int) -> SignupRequest:
    """A trusted proxy's request from a client of its own (the per-client limit is not tested
    here)."""
    ip = f"2001:db8:{number:x}::1"
    return SignupRequest(email=email, route=ConsentRoute.API, ip=ip, trusted=True)


async def receive_all(
    writer: SignupWriter, emails: list[str], *, one_client: bool = False
) -> list[Receipt | BaseException]:
    calls = [
        writer.receive(
            request(email, 1 if one_client else hash(email) % 60000),
            RequestKind.SUBSCRIBE,
            now=NOW,
        )
        for email in emails
    ]
    return await asyncio.gather(*calls, return_exceptions=True)


def stored(engine: Engine) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(ReaderRequest)).scalar_one())


def test_each_request_gets_its_own_answer_and_a_bad_one_spoils_none(
    settings: Settings, engine: Engine
) -> None:
    writer = SignupWriter(engine, settings)
    emails = [f"r{n}@example.com" if n % 7 else f"not an address {n}" for n in range(60)]
    try:
        outcomes = asyncio.run(receive_all(writer, emails))
    finally:
        writer.stop()
    for email, outcome in zip(emails, outcomes, strict=True):
        if "@" in email:
            assert isinstance(outcome, Receipt) and outcome.answer is Answer.ACCEPTED
            assert outcome.stored, outcome.reason
        else:
            assert isinstance(outcome, InvalidInput)
    assert stored(engine) == sum("@" in e for e in emails)


def test_requests_that_arrive_while_one_commits_share_the_next_transaction(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine
) -> None:
    """The first request's transaction waits for the write lock, held by another connection
    (the writer tries again every millisecond); the 49 that arrive meanwhile go into one more
    transaction: two commits for fifty. All from one client, whose limit is fifty: waiting for
    the lock counts nobody twice."""
    sqlite_settings = make_test_settings(tmp_path, sqlite_url, subscribe_ip_limit=50)
    database = sqlite_settings.database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    writer = SignupWriter(sqlite_engine, sqlite_settings)
    commits: list[int] = []
    event.listen(writer.engine, "commit", lambda _conn: commits.append(1))
    queued = threading.Event()

    async def scenario() -> list[Receipt | BaseException]:
        first = asyncio.ensure_future(receive_all(writer, ["first@example.com"], one_client=True))
        while writer.pending.qsize() == 0 and writer.thread is None:
            await asyncio.sleep(0.01)  # the first is queued (the writer may have taken it)
        emails = [f"r{n}@example.com" for n in range(49)]
        rest = asyncio.ensure_future(receive_all(writer, emails, one_client=True))
        while writer.pending.qsize() < 49:
            await asyncio.sleep(0.01)  # all 49 wait while the first transaction waits
        queued.set()
        return [*(await first), *(await rest)]

    def release_the_lock() -> None:
        queued.wait(60)
        holder.rollback()

    releaser = threading.Thread(target=release_the_lock)
    releaser.start()
    try:
        outcomes = asyncio.run(scenario())
    finally:
        queued.set()
        releaser.join()
        writer.stop()
        holder.close()
    transactions = len(commits)
    assert all(isinstance(o, Receipt) and o.stored for o in outcomes)
    assert stored(sqlite_engine) == 50
    assert 1 <= transactions <= 2


def test_a_store_that_fails_fails_each_request_of_that_transaction(
    settings: Settings, engine: Engine
) -> None:
    writer = SignupWriter(engine, settings)
    # The table gone under the writer: each caller gets the store's error (and answers as for
    # any store failure); none is told its request was stored.
    ReaderRequest.__table__.drop(engine)  # type: ignore[attr-defined]
    try:
        outcomes = asyncio.run(receive_all(writer, ["a@example.com", "b@example.com"]))
    finally:
        writer.stop()
    assert all(isinstance(o, Exception) and not isinstance(o, InvalidInput) for o in outcomes)


@pytest.mark.parametrize(
    ("store", "configured", "expected"),
    [
        ("sqlite", "7", 7),
        ("sqlite", "0", 0),
        ("postgresql", "0", 0),
        # Unset (or blank, as in a copied .env.example): SQLite keeps the priority (its write
        # lock is shared with the site), PostgreSQL yields the CPU to the site's pages.
        ("sqlite", None, 0),
        ("sqlite", "", 0),
        ("postgresql", None, 10),
        ("postgresql", " ", 10),
    ],
)
def test_background_commands_lower_their_own_cpu_priority(
    tmp_path: Path, sqlite_url: str, store: str, configured: str | None, expected: int
) -> None:
    code = (
        "import os\n"
        "from digest.cli.common import load_settings, yield_cpu\n"
        "yield_cpu(load_settings())\n"
        "print(os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    # Only the URL's kind counts here: nothing connects to it.
    url = sqlite_url if store == "sqlite" else "postgresql+psycopg://nobody@127.0.0.1:9/none"
    env.update(DIGEST_DATABASE_URL=url, DIGEST_SECRET_KEY="k" * 40)
    if configured is not None:
        env["DIGEST_BACKGROUND_NICE"] = configured
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == max(expected, os.getpriority(os.PRIO_PROCESS, 0))
