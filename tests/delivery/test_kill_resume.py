"""Kill test: `digest issue send` SIGKILLed at random moments, restarted until it is done.

The moments are chosen by progress, not by the clock: each run is killed right after a random
number (1 to 3) of its requests reached the fake provider, while they are in flight. So the test
kills as often on a loaded machine as on an idle one, and proves it while both cores are busy.
Every eligible reader must end with exactly one email at the fake provider, nobody missing,
and the ledger's counts must match what the provider holds.

The readers are spread over several topic variants (and some topics are quiet this week), so the
first run also renders the variants while it may be killed, and each email that arrives must be
the reader's own variant: exactly the week's cards in their topics.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from digest import issues
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
from tests.support.issue_data import comparison_doc, import_docs, topical_week, topics_of_doc
from tests.support.ledger import NOW, add_readers, add_topic_readers, frozen_issue
from tests.support.resend_server import FakeResend
from tests.support.settings import make_test_settings

READERS = 3000  # 250 batches of readers with news: more than 50 kills of a few batches each
MIN_KILLS = 50
QUIET = "Robotics"
# Readers cycle through these: every topic, four variants, and one topic with nothing this week.
CHOICES: list[set[str] | None] = [
    None,
    {"Design"},
    {"Video", "Writing"},
    {"Developer Tools", "Data", QUIET},
    {"Security"},
    {QUIET},
]
CARD = re.compile(r"https://site\.test/compare/([a-z0-9-]+)")


def week_with_variants(engine: Any, url: str, tmp_path: Path) -> dict[str, set[str]]:
    """A frozen issue across six topics (plus a quiet one) and READERS readers cycling through
    CHOICES; returns each reader's address with the slugs their email must hold (none: skipped)."""
    settings = make_test_settings(tmp_path, url)
    quiet = comparison_doc(90, NOW - timedelta(days=30), categories=(QUIET, QUIET))
    import_docs(engine, [quiet], now=NOW - timedelta(days=30))
    week = topical_week(NOW, 8, long=False)
    import_docs(engine, week, now=NOW)
    choices = [CHOICES[n % len(CHOICES)] for n in range(READERS)]
    with session_scope(engine) as session:
        draft = issues.claim_issue(session, settings, now=NOW)
        issues.freeze_issue(session, settings, draft, now=NOW)
        add_topic_readers(session, choices)
    slugs = {doc["slug"]: topics_of_doc(doc) for doc in week}
    return {
        f"reader{n}@example.com": {s for s, names in slugs.items() if not chosen or names & chosen}
        for n, chosen in enumerate(choices)
    }


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
    wanted = week_with_variants(engine, url, tmp_path)
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
            # 30 chunks of 100 readers: the ledger is written while the first batches go out,
            # so the first kills land mid-enqueue too.
            DIGEST_ENQUEUE_CHUNK="100",
            DIGEST_SECRET_KEY="k" * 40,
            # The cards each reader got are read off the comparison links; tracked links
            # (/r/{token}) hide them. Sends with tracking on: tests/delivery/test_breaker.py.
            DIGEST_TRACK_CLICKS="off",
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
        cards = {email["to"][0]: set(CARD.findall(email["html"])) for email in fake.accepted}
    assert kills >= MIN_KILLS and mid_flight >= MIN_KILLS // 2, (kills, mid_flight, runs)
    assert received == {address: 1 for address, slugs in wanted.items() if slugs}
    assert cards == {address: slugs for address, slugs in wanted.items() if slugs}
    with session_scope(engine, read_only=True) as session:
        deliveries = session.exec(select(Delivery)).all()
        issue = session.exec(select(Issue)).one()
    assert issue.status == IssueStatus.SENT
    statuses = Counter(d.status for d in deliveries)
    assert statuses == {DeliveryStatus.SENT: len(received), DeliveryStatus.SKIPPED: READERS // 6}
    sent = {d.provider_id for d in deliveries if d.status == DeliveryStatus.SENT}
    assert sent == {e["id"] for e in fake.accepted}
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
