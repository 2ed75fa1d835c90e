"""The database goes away mid-send: `digest issue send` waits and reconnects, or exits 3 and a
rerun resumes; either way every reader ends with exactly one email at the fake provider.

PostgreSQL: a private cluster (tests/support/pg_cluster.py) stopped with a fast or an immediate
shutdown at moments chosen by progress (emails accepted at the fake), then started again.
SQLite: the database's folder and files are made read-only for a moment. Root ignores
permissions, so as root the sender runs without CAP_DAC_OVERRIDE (setpriv): the permission
bits then bind it as they bind any user, and its writes really fail.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from digest.db import make_engine, session_scope
from digest.models import Delivery, DeliveryStatus, Issue, IssueStatus, metadata
from tests.support.cli import DIGEST, digest_env
from tests.support.ledger import add_readers, frozen_issue
from tests.support.pg_cluster import PgCluster, pg_bin
from tests.support.resend_server import FakeResend

READERS = 2000
OUTAGES = 3
RUN_LIMIT = 120.0  # seconds per sender run; every wait below is bounded by it


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    folder = pg_bin()
    if folder is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are needed under CI=true")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl)")
    cluster = PgCluster(folder)
    try:
        yield cluster.init()
    finally:
        cluster.remove()


def sender_prefix() -> list[str]:
    """As root: drop the capabilities that let root ignore file permissions."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run the sender without root's overrides")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def seed(url: str) -> None:
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, READERS)
        frozen_issue(session)
    engine.dispose()


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> bool:
    """Wait (bounded) until `condition` holds; False if the sender ended first."""
    deadline = time.monotonic() + RUN_LIMIT
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def send_through_outages(
    url: str,
    tmp_path: Path,
    *,
    fault: Callable[[int], None],
    heal: Callable[[], None],
    prefix: list[str],
    seed_value: int,
) -> tuple[FakeResend, str, list[int]]:
    """Run `digest issue send` (again while it exits 3), faulting the store at random points
    of progress. Returns the fake, the senders' stderr and their exit statuses."""
    rng = random.Random(seed_value)
    with FakeResend(delay=0.02) as fake:
        env = digest_env(
            tmp_path,
            url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            DIGEST_RATE_LIMIT="1000",
            DIGEST_BATCH_SIZE="20",
            DIGEST_SEND_WORKERS="3",
            DIGEST_SEND_LEASE_SECONDS="3",
            DIGEST_DB_RETRY_SECONDS="20",
            DIGEST_SECRET_KEY="k" * 40,
        )
        marks = sorted(rng.sample(range(READERS // 10, READERS * 8 // 10), OUTAGES))
        errors, statuses = [], []
        for _ in range(4):  # a run that gave up (exit 3) is simply run again
            process = subprocess.Popen(
                [*prefix, DIGEST, "issue", "send"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            while marks and wait_for(lambda: len(fake.accepted) >= marks[0], process):
                fault(marks.pop(0))
                time.sleep(rng.uniform(0.3, 2.0))  # the outage itself lasts a random while
                heal()
            _, err = process.communicate(timeout=RUN_LIMIT)
            errors.append(err.decode(errors="replace"))
            statuses.append(process.returncode)
            if process.returncode != 3:
                break
        return fake, "\n".join(errors), statuses


def assert_everyone_once(fake: FakeResend, url: str, statuses: list[int], log: str) -> None:
    assert statuses[-1] == 0, log
    assert set(statuses) <= {0, 3}, log
    assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(READERS)}
    engine = make_engine(url)
    with session_scope(engine, read_only=True) as session:
        deliveries = session.exec(select(Delivery)).all()
        issue = session.exec(select(Issue)).one()
    engine.dispose()
    assert issue.status == IssueStatus.SENT
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert {d.provider_id for d in deliveries} == {e["id"] for e in fake.accepted}


@pytest.mark.slow
def test_postgres_stopped_mid_send_fast_and_immediate(cluster: PgCluster, tmp_path: Path) -> None:
    seed(cluster.url)
    modes = ["fast", "immediate"]
    fake, log, statuses = send_through_outages(
        cluster.url,
        tmp_path,
        fault=lambda n: cluster.stop(modes[n % 2]),
        heal=cluster.start,
        prefix=[],
        seed_value=int(os.environ.get("OUTAGE_SEED", "15")),
    )
    assert "database unavailable" in log and "reconnects" in log, log
    assert_everyone_once(fake, cluster.url, statuses, log)


@pytest.mark.slow
def test_sqlite_folder_read_only_mid_send(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    url = f"sqlite:///{folder / 'subscribers.db'}"
    seed(url)
    prefix = sender_prefix()

    def read_only(_: int) -> None:
        for path in [*folder.iterdir(), folder]:
            path.chmod(0o555 if path.is_dir() else 0o444)

    def writable() -> None:
        folder.chmod(0o755)
        for path in folder.iterdir():
            path.chmod(0o644)

    fake, log, statuses = send_through_outages(
        url,
        tmp_path,
        fault=read_only,
        heal=writable,
        prefix=prefix,
        seed_value=int(os.environ.get("OUTAGE_SEED", "15")),
    )
    assert "database unavailable" in log and "readonly" in log, log
    assert_everyone_once(fake, url, statuses, log)
