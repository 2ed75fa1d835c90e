"""Kill test: `digest issue send` SIGKILLed at random instants, restarted until it is done.

Every eligible reader must end with exactly one email at the fake provider, nobody missing,
and the ledger's counts must match what the provider holds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
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

READERS = 1500
MIN_KILLS = 20


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sigkill_at_random_instants_loses_and_duplicates_nothing(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, READERS)
        frozen_issue(session)
    rng = random.Random(int(os.environ.get("KILL_SEED", "4")))
    with FakeResend(delay=0.25) as fake:
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
            requests = sum(fake.key_requests.values())
            process = subprocess.Popen(
                [DIGEST, "issue", "send"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if kills < MIN_KILLS:
                # Random instants of the send itself, however slow this run is to start.
                wait_for_a_request(fake, process, since=requests)
                time.sleep(rng.uniform(0.0, 0.8))
                if process.poll() is None:
                    mid_flight += fake.in_flight > 0
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err.decode()
            break
        received = fake.recipients()
    assert kills >= MIN_KILLS and mid_flight >= 5, (kills, mid_flight)
    assert received == {f"reader{n}@example.com": 1 for n in range(READERS)}
    with session_scope(engine, read_only=True) as session:
        deliveries = session.exec(select(Delivery)).all()
        issue = session.exec(select(Issue)).one()
    assert issue.status == IssueStatus.SENT
    assert len(deliveries) == READERS and {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert {d.provider_id for d in deliveries} == {e["id"] for e in fake.accepted}
    engine.dispose()


def wait_for_a_request(fake: FakeResend, process: subprocess.Popen[bytes], *, since: int) -> None:
    """Until the fake has seen a request after `since` (bounded; or the sender ended)."""
    deadline = time.monotonic() + 60
    while sum(fake.key_requests.values()) <= since and time.monotonic() < deadline:
        if process.poll() is not None:
            return
        time.sleep(0.01)


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
