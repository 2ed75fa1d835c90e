"""Kill test: `digest issue send` SIGKILLed at random moments, restarted until it is done.

The moments are chosen by progress, not by the clock: each run is killed right after a random
number (1 to 3) of its requests reached the fake provider, while they are in flight. So the test
kills as often on a loaded machine as on an idle one, and proves it while both cores are busy.
Every eligible reader must end with exactly one email at the fake provider, nobody missing,
and the ledger's counts must match what the provider holds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from digest.db import make_engine, session_scope
from digest.models import (
    Batch,
    BatchStatus,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    metadata,
)
from tests.support.cli import DIGEST, digest_env
from tests.support.ledger import add_readers, frozen_issue
from tests.support.resend_server import FakeResend

READERS = 3000  # 300 batches: more than 50 kills of at most a few batches each can finish
MIN_KILLS = 50


def exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Another process per core, spinning for the whole test: the machine is fully loaded."""
    spin = "import time\nend = time.monotonic() + 900\nwhile time.monotonic() < end: pass"
    burners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 2)]
    yield
    for burner in burners:
        burner.kill()
        burner.wait()


@pytest.mark.slow
# Bounded by progress (50 kills, then one run to the end), not by time; this is only the
# safety net, generous because every core is busy on purpose.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigkill_at_random_instants_loses_and_duplicates_nothing(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest, busy_cores: None
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, READERS)
        frozen_issue(session)
    rng = random.Random(int(os.environ.get("KILL_SEED", "4")))
    with FakeResend(delay=0.1) as fake:
        env = digest_env(
            tmp_path,
            url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            DIGEST_RATE_LIMIT="1000",
            DIGEST_BATCH_SIZE="10",
            DIGEST_SEND_LEASE_SECONDS="2",
            DIGEST_SEND_WORKERS="3",
            DIGEST_SECRET_KEY="k" * 40,
        )
        kills, mid_flight, runs = 0, 0, 0
        while True:
            runs += 1
            process = subprocess.Popen(
                [DIGEST, "issue", "send"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if kills < MIN_KILLS:
                target = fake.arrived + rng.randint(1, 3)
                fake.wait_for_arrivals(target, until=partial(exited, process))
                if process.poll() is None:
                    mid_flight += fake.in_flight > 0
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            _, err = process.communicate(timeout=600)
            assert process.returncode == 0, err.decode()
            break
        received = fake.recipients()
    assert kills >= MIN_KILLS and mid_flight >= MIN_KILLS // 2, (kills, mid_flight, runs)
    assert received == {f"reader{n}@example.com": 1 for n in range(READERS)}
    with session_scope(engine, read_only=True) as session:
        deliveries = session.exec(select(Delivery)).all()
        issue = session.exec(select(Issue)).one()
    assert issue.status == IssueStatus.SENT
    assert len(deliveries) == READERS and {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert {d.provider_id for d in deliveries} == {e["id"] for e in fake.accepted}
    engine.dispose()


def test_ctrl_c_lets_in_flight_batches_finish_and_leaves_no_lease(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'subscribers.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, 300)
        frozen_issue(session)
    with FakeResend(delay=0.4) as fake:
        env = digest_env(
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
        process = subprocess.Popen(
            [DIGEST, "issue", "send"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        while fake.in_flight == 0:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err.decode()
        with session_scope(engine, read_only=True) as session:
            leased = session.exec(select(Batch).where(Batch.status == BatchStatus.LEASED)).all()
        assert leased == []  # the default 120 s lease would otherwise hold the rerun up
        rerun = subprocess.run(
            [DIGEST, "issue", "send"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert rerun.returncode == 0, rerun.stderr.decode()
        received = fake.recipients()
    assert received == {f"reader{n}@example.com": 1 for n in range(300)}
