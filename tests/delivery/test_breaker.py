"""The circuit breaker in the kill-test harness: `digest issue send` against a fake Resend that
starts refusing every address (hard bounces) part-way. The issue pauses within one batch of
the threshold being crossed, the editors are emailed, a rerun does not lift the pause, and
after `digest issue resume` the send finishes with every reader mailed at most once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from digest.db import make_engine, session_scope
from digest.models import Delivery, DeliveryStatus, Issue, IssueStatus, metadata
from tests.support.cli import digest_env, run_digest
from tests.support.ledger import add_readers, frozen_issue
from tests.support.resend_server import FakeResend

READERS = 600
BATCH = 20
GOOD = 300  # accepted before the list goes bad: 15 batches
EDITOR = "editor@example.com"


def reader_batches(fake: FakeResend) -> int:
    return sum(1 for key in fake.key_requests if key.startswith("digest-i"))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_bouncing_pauses_within_one_batch_and_resume_finishes_once(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, READERS)
        frozen_issue(session)
    with FakeResend() as fake:
        fake.bounce_after, fake.spared = GOOD, {EDITOR}
        env = digest_env(
            tmp_path,
            url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            DIGEST_RATE_LIMIT="1000",
            DIGEST_BATCH_SIZE=str(BATCH),
            DIGEST_SEND_WORKERS="1",
            DIGEST_BREAKER_MIN_SAMPLE="100",
            DIGEST_EDITOR_EMAILS=EDITOR,
            DIGEST_SECRET_KEY="k" * 40,
        )
        first = run_digest(["issue", "send"], env, tmp_path)
        # 15 good batches, then the first bouncing batch crosses 2% and pauses the issue.
        assert reader_batches(fake) == GOOD // BATCH + 1, first.stdout + first.stderr
        issue = _issue(engine)
        assert issue.status == IssueStatus.PAUSED
        assert (issue.pause_reason or "").startswith("circuit breaker: hard bounces 20")
        alerts = [m for m in fake.accepted if m["to"] == [EDITOR]]
        assert len(alerts) == 1 and "paused" in alerts[0]["subject"]

        again = run_digest(["issue", "send"], env, tmp_path)  # a rerun is not a resume
        assert again.returncode == 3 and "digest issue resume 1" in again.stderr
        assert reader_batches(fake) == GOOD // BATCH + 1, again.stdout + again.stderr
        assert _issue(engine).status == IssueStatus.PAUSED

        fake.bounce_after = None  # the list is cleaned up; the editor resumes
        resumed = run_digest(["issue", "resume", "1"], env, tmp_path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        last = run_digest(["issue", "send"], env, tmp_path)
        # exit 1 only says some deliveries failed: the bounced batch
        assert "queued 0" in last.stdout and "failed 20" in last.stdout, last.stdout + last.stderr
        mailed = Counter(a for m in fake.accepted for a in m["to"] if a != EDITOR)
    assert _issue(engine).status == IssueStatus.SENT
    assert set(mailed.values()) == {1}
    assert len(mailed) == READERS - BATCH  # the bounced batch is not retried (hard bounces)
    with session_scope(engine, read_only=True) as session:
        statuses = Counter(d.status for d in session.exec(select(Delivery)))
    assert statuses == {DeliveryStatus.SENT: READERS - BATCH, DeliveryStatus.FAILED: BATCH}


def _issue(engine: object) -> Issue:
    with session_scope(engine, read_only=True) as session:  # type: ignore[arg-type]
        issue = session.exec(select(Issue)).one()
        return issue
