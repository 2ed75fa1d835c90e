"""The send's memory does not grow with readers: the ledger is written by the database (no
reader is held in Python), and the workers hold one batch each.

Each send runs in a fresh process (enqueue of every reader, then the first 500 emails); its
peak RSS at 200,000 readers must be within 20% of its peak at 20,000. Before the set-based
enqueue the larger list alone added ~1.4 KiB per reader (~270 MiB here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from digest.db import make_engine, session_scope
from digest.delivery import enqueue
from digest.models import metadata
from tests.support.ledger import frozen_issue

ROOT = Path(__file__).resolve().parents[2]
SENT = 500


def add_many_readers(engine: Engine, first: int, last: int) -> None:
    """Confirmed readers `first`..`last` written by the database itself (seconds, not minutes)."""
    if engine.dialect.name == "postgresql":
        numbers = f"SELECT n FROM generate_series({first}, {last}) AS n"
        stamp, hashed = "TIMESTAMPTZ '2026-11-01 08:00:00+00'", "md5(n::text) || md5(n::text)"
    else:
        numbers = (
            f"WITH RECURSIVE s(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM s "
            f"WHERE n < {last}) SELECT n FROM s"
        )
        stamp, hashed = "'2026-11-01 08:00:00.000000'", "printf('%064d', n)"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscriber (email, email_hash, name, status, created_at, "
                "confirmed_at, soft_bounces, consent_route, consent_at) "
                f"SELECT 'reader' || n || '@example.com', {hashed}, 'Reader ' || n, "
                f"'confirmed', {stamp}, {stamp}, 0, 'import', {stamp} FROM ({numbers}) AS x"
            )
        )


def peak_rss_kib(url: str, readers: int, issue_number: int, folder: Path) -> int:
    """Grow the list to `readers`, freeze issue `issue_number`, and send it in a fresh process
    until SENT emails are out; that process's peak RSS."""
    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT COUNT(*) FROM subscriber")).scalar_one()
    add_many_readers(engine, stored + 1, readers)
    with session_scope(engine) as session:
        issue = frozen_issue(session, number=issue_number)
        enqueue.start_enqueue(session, issue, batch_size=100)
    engine.dispose()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.send_child",
            url,
            str(issue.id),
            str(SENT),
            str(folder),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return int(child.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_peak_rss_at_200k_readers_is_within_a_fifth_of_20k(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    small = peak_rss_kib(url, 20_000, 1, tmp_path)
    large = peak_rss_kib(url, 200_000, 2, tmp_path)  # the same readers and 180,000 more
    assert large <= small * 1.2, (small, large)
