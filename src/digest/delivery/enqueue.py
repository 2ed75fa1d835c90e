"""Enqueue: write an issue's batches and deliveries in the database, in chunks of readers.

Each chunk is a range of reader ids, written set-based (`INSERT ... SELECT` from `subscriber`,
the audience decided in SQL by audience.py) in one transaction together with the issue's
`enqueue_progress` row. So on SQLite the write lock is held for one chunk at a time (the site
and the senders get in between), memory does not grow with readers, and a crash mid-enqueue
resumes at the next chunk: `UNIQUE (issue_id, subscriber_id)` and the progress row in the same
transaction mean one delivery per reader, whatever is killed when.

Batches are formed per chunk (a chunk's last batch may be short), numbered after the issue's
highest batch so numbers never collide with a follow-up batch (results.resend_later) made while
the enqueue runs. Readers whose topics have nothing this week go into one batch that sends
nothing, numbered last when the enqueue finishes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import partial

from sqlalchemy import bindparam, func, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from digest import issues
from digest.config import Settings
from digest.db import UTCDateTime, in_store
from digest.delivery import audience
from digest.delivery.audience import WeekTopics
from digest.models import (
    Batch,
    BatchStatus,
    DeliveryStatus,
    EnqueueProgress,
    Issue,
    IssueVariant,
    Subscriber,
)

# Readers (by id range) per chunk in one transaction (DIGEST_ENQUEUE_CHUNK is the setting).
CHUNK_READERS = 20_000
# A send's first chunk is this many batches' worth of reader ids, so the first email leaves
# at once instead of after a whole chunk (~3 s at 20,000 on a loaded machine); each next chunk
# is GROWTH times bigger, up to DIGEST_ENQUEUE_CHUNK (issue 14).
FIRST_CHUNK_BATCHES = 4
GROWTH = 4


def lock_issue(session: Session, issue_id: int) -> None:
    """Serialise enqueue per issue (PostgreSQL row lock; SQLite writers are serial already).

    FOR NO KEY UPDATE, not FOR UPDATE: a chunk holds it for a second or more, and a send's
    claims and results update batches, whose foreign-key checks take a key-share lock on the
    issue row; FOR UPDATE made every sender wait for each chunk's commit (issue 14)."""
    query = select(Issue.id).where(col(Issue.id) == issue_id).with_for_update(key_share=True)
    session.exec(query).first()


def new_batch(issue_id: int, number: int, *, now: datetime) -> Batch:
    # Random, not derived from ids: a rebuilt database must never reuse a key the provider knows.
    key = f"digest-i{issue_id}-b{number}-{uuid.uuid4().hex}"
    return Batch(
        issue_id=issue_id,
        number=number,
        idempotency_key=key,
        status=BatchStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


def has_batches(session: Session, issue_id: int) -> bool:
    query = select(Batch.id).where(col(Batch.issue_id) == issue_id).limit(1)
    return session.exec(query).first() is not None


def start_enqueue(session: Session, issue: Issue, *, batch_size: int) -> EnqueueProgress:
    """The issue's progress row, made once: who is in this issue is fixed here (the highest
    reader id now). Cheap, so it shares the freeze's transaction."""
    assert issue.id is not None
    lock_issue(session, issue.id)
    progress = session.get(EnqueueProgress, issue.id, populate_existing=True)
    if progress is not None:
        return progress
    last = session.exec(select(func.max(Subscriber.id))).one() or 0
    # A ledger written before enqueue_progress existed was written whole, in one transaction.
    done = has_batches(session, issue.id)
    progress = EnqueueProgress(
        issue_id=issue.id,
        done_through=last if done else 0,
        last_reader=last,
        batch_size=batch_size,
        finished_at=issue.frozen_at if done else None,
    )
    session.add(progress)
    session.flush()
    return progress


def is_finished(session: Session, issue_id: int) -> bool:
    """Whether every reader of the issue is in the ledger (the issue may finish)."""
    progress = session.get(EnqueueProgress, issue_id, populate_existing=True)
    if progress is None:  # a ledger older than enqueue_progress, written whole
        return has_batches(session, issue_id)
    return progress.finished_at is not None


def week_of(session: Session, issue: Issue) -> WeekTopics:
    return WeekTopics.of(issues.week_topics(session, issue))


def write_chunk(
    session: Session,
    settings: Settings,
    issue: Issue,
    week: WeekTopics,
    *,
    now: datetime,
    size: int = CHUNK_READERS,
) -> int | None:
    """Write the next chunk of readers into the ledger; the deliveries written, or None when
    the enqueue was already finished."""
    assert issue.id is not None
    progress = start_enqueue(session, issue, batch_size=settings.batch_size)
    if progress.finished_at is not None:
        return None
    lo = progress.done_through
    hi = min(lo + size, progress.last_reader)
    written = _write_range(session, settings, issue, week, progress, lo=lo, hi=hi, now=now)
    progress.done_through, progress.queued = hi, progress.queued + written
    if hi >= progress.last_reader:
        _finish(session, progress, now=now)
    session.add(progress)
    session.flush()
    return written


def enqueue_issue(
    session: Session,
    issue: Issue,
    *,
    settings: Settings,
    batch_size: int,
    now: datetime,
    size: int = CHUNK_READERS,
) -> int:
    """Write the whole ledger of a frozen issue in the caller's transaction (tests, small
    lists); returns the deliveries added (0 when it was enqueued already)."""
    settings = settings.model_copy(update={"batch_size": batch_size})
    week = week_of(session, issue)
    added = 0
    while (written := write_chunk(session, settings, issue, week, now=now, size=size)) is not None:
        added += written
    return added


def enqueue_in_chunks(
    engine: Engine,
    settings: Settings,
    issue_id: int,
    *,
    clock: Callable[[], datetime],
    patience: float,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Write whatever is left of an issue's ledger, one chunk per transaction (waiting out a
    lost store like the send does): a few batches first, growing to DIGEST_ENQUEUE_CHUNK
    readers (`chunk_sizes`). Several processes may run this at once: chunks are serialised on
    the issue's lock and each continues from the progress row. `on_chunk` hears each committed
    chunk's deliveries."""

    def week(session: Session) -> tuple[Issue, WeekTopics]:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        return issue, week_of(session, issue)

    issue, topics = in_store(engine, week, patience=patience, read_only=True, what="the enqueue")

    def chunk(session: Session, *, size: int) -> int | None:
        return write_chunk(session, settings, issue, topics, now=clock(), size=size)

    for size in chunk_sizes(settings.batch_size * FIRST_CHUNK_BATCHES, settings.enqueue_chunk):
        written = in_store(engine, partial(chunk, size=size), patience=patience, what="the enqueue")
        if written is None:
            return
        if on_chunk is not None:
            on_chunk(written)


def chunk_sizes(first: int, most: int) -> Iterator[int]:
    """first, first * GROWTH, ... up to `most`, then `most` for ever."""
    size = max(1, min(first, most))
    while True:
        yield size
        size = min(size * GROWTH, most)


def _write_range(
    session: Session,
    settings: Settings,
    issue: Issue,
    week: WeekTopics,
    progress: EnqueueProgress,
    *,
    lo: int,
    hi: int,
    now: datetime,
) -> int:
    counts = audience.survey(session, week, lo=lo, hi=hi)
    copies = _copies(session, settings, issue, week, [m for m in counts if m is not None])
    sendable = sum(n for mask, n in counts.items() if mask is None or mask in copies)
    skipped = sum(counts.values()) - sendable
    bounds = {"issue": issue.id, "lo": lo, "hi": hi, "now": now}
    if sendable:
        base = _next_number(session, issue.id or 0)
        size = progress.batch_size
        _insert_batches(session, issue.id or 0, base, base - 1 + -(-sendable // size), now=now)
        dialect = session.get_bind().dialect.name
        queued = _queued_sql(week, copies, dialect=dialect)
        _run(session, queued, {**bounds, "base": base, "size": size})
    if skipped:
        batch_id = _skip_batch(session, progress, now=now)
        params = {**bounds, "batch": batch_id, "reason": audience.NOTHING_IN_TOPICS}
        _run(session, _skipped_sql(week, copies), params)
    return sendable + skipped


def _copies(
    session: Session, settings: Settings, issue: Issue, week: WeekTopics, masks: list[int]
) -> dict[int, int]:
    """Each mask's variant id (a mask absent has nothing this week), rendering new ones.

    Read from the store every chunk, not cached: a chunk rolled back (crash, lost store) takes
    the variants it rendered with it."""
    assert issue.id is not None
    keys = {mask: issues.topic_key(week.topics(mask)) for mask in masks if mask}
    query = select(IssueVariant.topic_key, IssueVariant.id).where(
        col(IssueVariant.issue_id) == issue.id
    )
    stored = {key: int(v) for key, v in session.exec(query).all() if v is not None}
    missing = {week.topics(mask) for mask, key in keys.items() if key not in stored}
    if missing:
        made = issues.freeze_variants(session, settings, issue, missing)
        stored.update({issues.topic_key(chosen): v for chosen, v in made.items()})
    return {mask: stored[key] for mask, key in keys.items() if key in stored}


def _queued_sql(week: WeekTopics, copies: dict[int, int], *, dialect: str) -> str:
    # Readers numbered in id order; batch n of this chunk takes readers n*size+1 .. (n+1)*size.
    if dialect == "postgresql":
        # The chunk's batch ids in one array, read once: a join on the computed number is
        # planned from statistics that lag behind a table growing chunk by chunk (at 1M
        # readers PostgreSQL chose a nested loop over every batch: 40 s per chunk).
        batch = "a.ids[CAST((r.rn - 1) / :size + 1 AS integer)]"
        join = (
            "CROSS JOIN (SELECT ARRAY(SELECT id FROM batch WHERE issue_id = :issue "
            "AND number >= :base ORDER BY number) AS ids) a"
        )
    else:
        batch = "b.id"
        join = "JOIN batch b ON b.issue_id = :issue AND b.number = :base + (r.rn - 1) / :size"
    return (
        "INSERT INTO delivery (issue_id, subscriber_id, batch_id, variant_id, name, status, "
        "attempts, error, created_at, finished_at) "
        f"SELECT :issue, r.id, {batch}, {audience.copy_sql(copies)}, r.name, "
        f"'{DeliveryStatus.QUEUED.value}', 0, NULL, :now, NULL "
        "FROM (SELECT r.id, r.name, r.mask, ROW_NUMBER() OVER (ORDER BY r.id) AS rn "
        f"FROM ({audience.readers_sql(week)}) r WHERE {audience.sendable_sql(copies)}) r "
        f"{join}"
    )


def _skipped_sql(week: WeekTopics, copies: dict[int, int]) -> str:
    return (
        "INSERT INTO delivery (issue_id, subscriber_id, batch_id, variant_id, name, status, "
        "attempts, error, created_at, finished_at) "
        f"SELECT :issue, r.id, :batch, NULL, NULL, '{DeliveryStatus.SKIPPED.value}', 0, "
        f":reason, :now, :now FROM ({audience.readers_sql(week)}) r "
        f"WHERE NOT {audience.sendable_sql(copies)}"
    )


def _run(session: Session, sql: str, params: Mapping[str, object]) -> None:
    statement = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
    session.connection().execute(statement, params)


def _next_number(session: Session, issue_id: int) -> int:
    last = session.exec(select(func.max(Batch.number)).where(col(Batch.issue_id) == issue_id))
    return max(int(last.one() or 0) + 1, 0) if has_batches(session, issue_id) else 0


def _insert_batches(
    session: Session, issue_id: int, first: int, last: int, *, now: datetime
) -> None:
    """Batches numbered first..last, each with a random idempotency key, in one statement."""
    columns = "issue_id, number, idempotency_key, status, attempts, next_attempt_at, created_at"
    pending = BatchStatus.PENDING.value
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            f"INSERT INTO batch ({columns}) SELECT :issue, n.k, 'digest-i' || "
            "CAST(:issue AS text) || '-b' || n.k || '-' || "
            f"replace(CAST(gen_random_uuid() AS text), '-', ''), '{pending}', 0, :now, :now "
            "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n(k)"
        )
    else:
        sql = (
            "WITH RECURSIVE n(k) AS (SELECT :first UNION ALL SELECT k + 1 FROM n WHERE k < :last) "
            f"INSERT INTO batch ({columns}) SELECT :issue, n.k, 'digest-i' || :issue || '-b' || "
            f"n.k || '-' || lower(hex(randomblob(16))), '{pending}', 0, :now, :now FROM n"
        )
    _run(session, sql, {"issue": issue_id, "first": first, "last": last, "now": now})


def _skip_batch(session: Session, progress: EnqueueProgress, *, now: datetime) -> int:
    """The batch of readers with nothing this week, made on first need (numbered -1 until the
    enqueue finishes, so it never takes a number a chunk or a resend needs)."""
    if progress.skip_batch_id is None:
        batch = new_batch(progress.issue_id, -1, now=now)
        session.add(batch)
        session.flush()
        progress.skip_batch_id = batch.id
    assert progress.skip_batch_id is not None
    return progress.skip_batch_id


def _finish(session: Session, progress: EnqueueProgress, *, now: datetime) -> None:
    if progress.skip_batch_id is not None:
        number = _next_number(session, progress.issue_id)
        session.execute(
            update(Batch).where(col(Batch.id) == progress.skip_batch_id).values(number=number)
        )
    progress.finished_at = now
