"""`digest ledger compact`: an old issue's per-reader rows folded into counts (both engines);
what the desk and `digest issue show` report per issue stays exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import delivery, stats
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import claims, compact
from digest.models import Batch, Delivery, DeliveryMark, DeliveryStatus, Issue, IssueStatus
from digest.stats.tallies import due_issues
from tests.support.cli import digest_env, run_digest
from tests.support.ledger import NOW, add_readers, frozen_issue


def sent_issue(engine: Engine, settings: Settings, *, number: int, readers: int) -> int:
    """`readers` more readers and an issue sent at NOW to everyone: every third delivery failed
    ("mailbox full" or "no such user")."""
    with session_scope(engine) as session:
        add_readers(session, readers, start=number * 1000)
        issue = frozen_issue(session, number=number)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
        assert issue.id is not None
        rows = session.exec(select(Delivery).where(col(Delivery.issue_id) == issue.id)).all()
        for n, row in enumerate(sorted(rows, key=lambda r: r.subscriber_id)):
            failed = n % 3 == 0
            row.status = DeliveryStatus.FAILED if failed else DeliveryStatus.SENT
            row.error = ("mailbox full", "no such user")[n % 2] if failed else None
            session.add(row)
        session.flush()
        session.add(DeliveryMark(delivery_id=rows[1].id or 0, event="delivered", at=NOW))
        session.execute(
            update(Issue)
            .where(col(Issue.id) == issue.id)
            .values(status=IssueStatus.SENT, sent_at=NOW)
        )
        return issue.id


def report(engine: Engine, issue_id: int) -> tuple[dict[str, int], list[tuple[str, int]]]:
    with session_scope(engine, read_only=True) as session:
        return delivery.issue_counts(session, issue_id), delivery.failure_reasons(session, issue_id)


def test_old_issues_fold_into_counts_and_report_the_same(
    engine: Engine, settings: Settings
) -> None:
    old = sent_issue(engine, settings, number=1, readers=30)
    recent = sent_issue(engine, settings, number=2, readers=12)
    with session_scope(engine) as session:
        session.execute(
            update(Issue).where(col(Issue.id) == recent).values(sent_at=NOW + timedelta(days=60))
        )
    before_old, before_recent = report(engine, old), report(engine, recent)
    with session_scope(engine, read_only=True) as session:
        due = compact.compactable(session, sent_before=NOW + timedelta(days=30))
    assert due == [old]
    folded: list[int] = []
    # 7 ids a transaction: the 30 rows cross chunk boundaries, and each commit stays exact
    assert compact.compact_issue(engine, old, chunk=7, progress=folded.append) == 30
    assert sum(folded) == 30 and len(folded) == 5
    assert report(engine, old) == before_old and report(engine, recent) == before_recent
    assert before_old[0] == {"queued": 0, "sent": 20, "failed": 10, "skipped": 0}
    with session_scope(engine, read_only=True) as session:
        left = session.exec(select(Delivery.issue_id)).all()
        batches = session.exec(select(Batch.issue_id)).all()
        marks = session.exec(select(DeliveryMark)).all()
        again = compact.compactable(session, sent_before=NOW + timedelta(days=30))
    assert set(left) == {recent} and set(batches) == {recent} and again == []
    assert len(marks) == 1  # the recent issue's mark; the old one's went with its delivery


def test_the_command_compacts_issues_older_than_the_days_given(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    issue_id = sent_issue(engine, settings, number=1, readers=9)
    env = digest_env(tmp_path, settings.database_url, DIGEST_SECRET_KEY="k" * 40)
    kept = run_digest(["ledger", "compact", "--older-than", "100000"], env, tmp_path)
    assert kept.returncode == 0 and "Compacted 0 issue(s)" in kept.stdout, kept.stderr
    done = run_digest(["ledger", "compact", "--older-than", "1"], env, tmp_path)
    assert done.returncode == 0 and "Compacted 1 issue(s): 9 delivery row(s)" in done.stdout
    counts, _ = report(engine, issue_id)
    assert counts == {"queued": 0, "sent": 6, "failed": 3, "skipped": 0}


def test_the_desk_keeps_a_compacted_issues_figures(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    """The desk's figures (a delivered mark included) are counted before the rows go, and
    never recounted from the empty ledger afterwards."""
    issue_id = sent_issue(engine, settings, number=1, readers=9)
    env = digest_env(tmp_path, settings.database_url, DIGEST_SECRET_KEY="k" * 40)
    done = run_digest(["ledger", "compact", "--older-than", "1"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with session_scope(engine, read_only=True) as session:
        [figures] = stats.issue_figures(session)
        due = due_issues(session, now=datetime.now(UTC) + timedelta(days=30))
    assert (figures.sent, figures.failed, figures.delivered) == (6, 3, 1)
    assert issue_id not in due


class Stopped(Exception):
    """The operator's Ctrl-C, between two chunks."""


def test_a_compaction_stopped_midway_is_exact_and_resumes(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    """Stopped after some chunks, the reports (and the desk's figures) are those of before;
    the command then finishes the job, recounting nothing."""
    issue_id = sent_issue(engine, settings, number=1, readers=30)
    before = report(engine, issue_id)
    with session_scope(engine) as session:  # as the command does before the first chunk
        issue = session.get(Issue, issue_id)
        assert issue is not None
        stats.keep_figures(session, issue, now=datetime.now(UTC), final=True)
    chunks: list[int] = []

    def stop_after_two(rows: int) -> None:
        chunks.append(rows)
        if len(chunks) == 2:
            raise Stopped

    with pytest.raises(Stopped):
        compact.compact_issue(engine, issue_id, chunk=7, progress=stop_after_two)
    with session_scope(engine, read_only=True) as session:
        left = len(session.exec(select(Delivery.id)).all())
        assert compact.started(session, issue_id)
    assert 0 < left < 30 and left == 30 - sum(chunks)
    assert report(engine, issue_id) == before  # exact midway
    env = digest_env(tmp_path, settings.database_url, DIGEST_SECRET_KEY="k" * 40)
    done = run_digest(["ledger", "compact", "--older-than", "1"], env, tmp_path)
    assert done.returncode == 0 and f"{left} delivery row(s)" in done.stdout, done.stderr
    assert report(engine, issue_id) == before
    with session_scope(engine, read_only=True) as session:
        [figures] = stats.issue_figures(session)
        assert session.exec(select(Delivery.id)).all() == []
        assert session.exec(select(Batch.id)).all() == []
    assert (figures.sent, figures.failed, figures.delivered) == (20, 10, 1)


def test_a_gap_in_the_issues_ids_is_skipped_not_walked(engine: Engine, settings: Settings) -> None:
    issue_id = sent_issue(engine, settings, number=1, readers=30)
    with session_scope(engine) as session:
        query = select(Delivery.id).where(col(Delivery.issue_id) == issue_id)
        ids = sorted(i for i in session.exec(query).all() if i is not None)
        gone = ids[5:25]
        session.execute(delete(Delivery).where(col(Delivery.id).in_(gone)))
    before = report(engine, issue_id)
    chunks: list[int] = []
    assert compact.compact_issue(engine, issue_id, chunk=2, progress=chunks.append) == 10
    assert report(engine, issue_id) == before
    # 20 missing ids are 10 chunks of 2: one empty chunk finds the gap, the rest are skipped
    assert chunks.count(0) == 1 and sum(chunks) == 10
