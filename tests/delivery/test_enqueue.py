"""The enqueue in chunks (SQLite and PostgreSQL): set-based, resumable, one delivery per reader.

The kill test runs the enqueue in a child process that reports each committed chunk and waits
for the parent's go-ahead; the parent lets it go on and SIGKILLs it at once after a random
number of chunks, so the child dies inside its next chunk's transaction (or between chunks),
as often on a loaded machine as on an idle one. Then the enqueue is run again, until done.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest import issues
from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.delivery import claims, enqueue, results
from digest.models import (
    Batch,
    Delivery,
    DeliveryStatus,
    EnqueueProgress,
    Issue,
    IssueVariant,
    Subscriber,
    SubscriberStatus,
    SubscriberTopic,
    metadata,
)
from digest.readers import subscriptions
from digest.transports.base import SendResult
from tests.support.issue_data import TOPICS, comparison_doc, import_docs, topical_week
from tests.support.ledger import NOW, add_readers, add_topic_readers, frozen_issue
from tests.support.settings import make_test_settings

ROOT = Path(__file__).resolve().parents[2]
QUIET = "Robotics"
READERS = 1200
CHUNK = 40  # readers per chunk: 30+ chunks, so many kills land mid-enqueue
BATCH = 7
MIN_KILLS = 8


def topical_issue(engine: Engine, settings: Settings, readers: int, seed: int) -> Issue:
    """A frozen issue over TOPICS (QUIET has nothing this week) and `readers` readers with
    random topic choices, every tenth of them unconfirmed."""
    quiet = comparison_doc(90, NOW - timedelta(days=30), categories=(QUIET, QUIET))
    import_docs(engine, [quiet], now=NOW - timedelta(days=30))
    import_docs(engine, topical_week(NOW, 8, long=False), now=NOW)
    rng, pool = random.Random(seed), [*TOPICS, QUIET]
    choices = [
        None if rng.random() < 0.3 else set(rng.sample(pool, rng.randint(1, 3)))
        for _ in range(readers)
    ]
    with session_scope(engine) as session:
        draft = issues.claim_issue(session, settings, now=NOW)
        issue = issues.freeze_issue(session, settings, draft, now=NOW)
        ids = add_topic_readers(session, choices)
        for reader in ids[::10]:
            subscriber = session.get(Subscriber, reader)
            assert subscriber is not None
            subscriber.status = SubscriberStatus.PENDING
            session.add(subscriber)
        enqueue.start_enqueue(session, issue, batch_size=BATCH)
    return issue


def expected_copies(engine: Engine, issue: Issue) -> dict[int, str | None]:
    """Each eligible reader's copy: None (the issue's own), a variant's topic key, or "skip"."""
    with session_scope(engine, read_only=True) as session:
        week = issues.week_topics(session, issue)
        confirmed = session.exec(
            select(Subscriber.id).where(col(Subscriber.status) == SubscriberStatus.CONFIRMED)
        ).all()
        chosen: dict[int, set[int]] = {}
        for chooser, topic in session.exec(
            select(SubscriberTopic.subscriber_id, SubscriberTopic.topic_id)
        ).all():
            chosen.setdefault(chooser, set()).add(topic)
    wanted: dict[int, str | None] = {}
    for reader in confirmed:
        assert reader is not None
        if reader not in chosen:
            wanted[reader] = None
        else:
            mine = chosen[reader] & week
            wanted[reader] = issues.topic_key(mine) if mine else "skip"
    return wanted


def ledger_copies(engine: Engine, issue: Issue) -> tuple[Counter[int], dict[int, str | None]]:
    with session_scope(engine, read_only=True) as session:
        keys = {v.id: v.topic_key for v in session.exec(select(IssueVariant)).all()}
        rows = session.exec(select(Delivery).where(col(Delivery.issue_id) == issue.id)).all()
    per_reader = Counter(row.subscriber_id for row in rows)
    copies = {
        row.subscriber_id: "skip"
        if row.status == DeliveryStatus.SKIPPED
        else (None if row.variant_id is None else keys[row.variant_id])
        for row in rows
    }
    return per_reader, copies


def check_batches(engine: Engine, issue: Issue) -> None:
    """Numbers 0..n, the sending ones at most BATCH readers each, the skipped ones last."""
    with session_scope(engine, read_only=True) as session:
        batches = session.exec(select(Batch).order_by(col(Batch.number))).all()
        rows = session.exec(select(Delivery.batch_id, Delivery.status)).all()
        progress = session.get(EnqueueProgress, issue.id)
    assert [b.number for b in batches] == list(range(len(batches)))
    sizes = Counter(batch for batch, status in rows if status == DeliveryStatus.QUEUED)
    skipped = {batch for batch, status in rows if status == DeliveryStatus.SKIPPED}
    sending = batches[:-1] if skipped else batches
    assert all(0 < sizes[b.id or 0] <= BATCH for b in sending), sizes
    assert skipped <= {batches[-1].id}
    assert progress is not None and progress.finished_at is not None
    assert progress.queued == len(rows)


def run_child(url: str, issue_id: int, folder: Path) -> subprocess.Popen[str]:
    argv = [url, str(issue_id), str(CHUNK), str(BATCH), str(folder)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.enqueue_child", *argv],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def chunks_then_kill(child: subprocess.Popen[str], chunks: int | None) -> bool:
    """Let the child commit `chunks` chunks, then kill it inside the next; True if killed,
    False if it finished first (None: let it finish)."""
    assert child.stdin is not None and child.stdout is not None
    for seen, line in enumerate(child.stdout, start=1):
        if line.strip() == "done":
            break
        child.stdin.write("go\n")
        child.stdin.flush()
        if chunks is not None and seen >= chunks:
            child.send_signal(signal.SIGKILL)
            child.wait()
            return True
    assert child.wait(timeout=120) == 0
    return False


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_enqueue_killed_mid_way_resumes_with_one_delivery_per_reader(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    engine = make_engine(url)
    metadata.create_all(engine)
    issue = topical_issue(engine, make_test_settings(tmp_path, url), READERS, seed=3)
    assert issue.id is not None
    rng, kills = random.Random(5), 0
    while chunks_then_kill(run_child(url, issue.id, tmp_path), rng.randint(1, 3)):
        kills += 1
    assert chunks_then_kill(run_child(url, issue.id, tmp_path), None) is False
    assert kills >= MIN_KILLS, kills
    wanted = expected_copies(engine, issue)
    per_reader, copies = ledger_copies(engine, issue)
    assert set(per_reader.values()) == {1} and copies == wanted
    check_batches(engine, issue)
    engine.dispose()


def test_a_chunked_enqueue_is_the_whole_one(engine: Engine, settings: Settings) -> None:
    """Chunks of 3 readers write what one chunk of all writes: same copies, same readers."""
    issue = topical_issue(engine, settings, 200, seed=8)  # some readers with only QUIET
    with session_scope(engine) as session:
        added = claims.enqueue_issue(
            session, issue, settings=settings, batch_size=BATCH, now=NOW, size=3
        )
        again = claims.enqueue_issue(session, issue, settings=settings, batch_size=BATCH, now=NOW)
    assert added == len(expected_copies(engine, issue)) and again == 0
    per_reader, copies = ledger_copies(engine, issue)
    assert set(per_reader.values()) == {1} and copies == expected_copies(engine, issue)
    assert "skip" in copies.values() and None in copies.values()
    check_batches(engine, issue)


def test_readers_who_join_after_the_enqueue_began_wait_for_the_next_issue(
    engine: Engine, settings: Settings
) -> None:
    issue = topical_issue(engine, settings, 10, seed=1)
    with session_scope(engine) as session:
        enqueue.write_chunk(
            session, settings, issue, enqueue.week_of(session, issue), now=NOW, size=4
        )
        late = add_readers(session, 3, start=500)
    with session_scope(engine) as session:
        claims.enqueue_issue(session, issue, settings=settings, batch_size=BATCH, now=NOW, size=4)
        ids = set(session.exec(select(Delivery.subscriber_id)).all())
    assert not ids & {reader.id for reader in late}
    assert ids == set(expected_copies(engine, issue)) - {reader.id for reader in late}


def test_the_first_chunk_is_a_few_batches_and_chunks_grow_to_the_setting(
    engine: Engine, settings: Settings
) -> None:
    """So the first email leaves at once: the send waits only for FIRST_CHUNK_BATCHES batches."""
    settings = settings.model_copy(update={"batch_size": 2, "enqueue_chunk": 50})
    with session_scope(engine) as session:
        add_readers(session, 200)
        issue = frozen_issue(session)
        enqueue.start_enqueue(session, issue, batch_size=2)
        assert issue.id is not None
        issue_id = issue.id
    written: list[int] = []
    enqueue.enqueue_in_chunks(
        engine, settings, issue_id, clock=lambda: NOW, patience=5.0, on_chunk=written.append
    )
    assert written == [8, 32, 50, 50, 50, 10]  # 2 x 4 readers, x4, then the setting
    with session_scope(engine, read_only=True) as session:
        per_reader = Counter(session.exec(select(Delivery.subscriber_id)).all())
    assert len(per_reader) == 200 and set(per_reader.values()) == {1}


def test_a_chunk_being_written_holds_up_neither_the_send_nor_its_readers(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL: while a chunk's transaction is open (it holds the issue's lock, and each of
    its deliveries' foreign keys a key-share lock on its reader and batch), the send claims,
    records and puts back batches of the chunk before, and a reader of the open chunk can be
    locked to change. Each waits at most 5 s here (lock_timeout); before the issue's lock was
    FOR NO KEY UPDATE, the send's second write of a batch row waited for the chunk's commit
    (its foreign-key check on the issue), and so did locking a reader of the chunk."""
    settings = make_test_settings(tmp_path, postgres_url).model_copy(update={"batch_size": 5})
    engine = make_engine(postgres_url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        reader_ids = [int(reader.id or 0) for reader in add_readers(session, 40)]
        issue = frozen_issue(session)
        enqueue.write_chunk(
            session, settings, issue, enqueue.week_of(session, issue), now=NOW, size=20
        )
        issue_id = issue.id
    assert issue_id is not None

    @contextmanager
    def impatient() -> Iterator[Session]:
        with session_scope(engine) as session:
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            yield session

    lease = timedelta(minutes=5)
    with Session(engine) as chunk:  # the next chunk, written and left open
        open_issue = chunk.get(Issue, issue_id)
        assert open_issue is not None
        week = enqueue.week_of(chunk, open_issue)
        assert enqueue.write_chunk(chunk, settings, open_issue, week, now=NOW, size=20) == 20
        with impatient() as session:
            sent = claims.claim_batch(session, issue_id=issue_id, owner="w1", now=NOW, lease=lease)
        assert sent is not None and len(sent.recipients) == 5
        answers = [SendResult(r.reference(issue_id), provider_id="p") for r in sent.recipients]
        with impatient() as session:
            assert results.record_results(
                session, sent, answers, now=NOW, resend_at=NOW, max_attempts=3
            )
        with impatient() as session:
            later = claims.claim_batch(session, issue_id=issue_id, owner="w2", now=NOW, lease=lease)
            assert later is not None
        with impatient() as session:
            assert results.release_batch(
                session, later, at=NOW, error="try again", count_attempt=True
            )
        with impatient() as session:
            assert subscriptions.lock_subscriber(session, reader_ids[30]) is not None
        chunk.rollback()
    engine.dispose()
