"""The ledger in the store (SQLite and PostgreSQL): enqueue once, leases, rechecks at claim."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import delivery
from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.delivery import claims, results
from digest.delivery.compose import Composer
from digest.delivery.pacing import Pacer
from digest.delivery.retry import RetryPolicy
from digest.delivery.send import finish_if_done
from digest.delivery.workers import SendJob
from digest.models import (
    Batch,
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
    metadata,
)
from digest.transports.base import SendResult
from digest.transports.outbox import OutboxTransport
from tests.support.ledger import NOW, add_readers, frozen_issue
from tests.support.settings import make_test_settings

LEASE = timedelta(seconds=30)


def test_enqueue_freezes_membership_and_keys_once(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        add_readers(session, 7)
        add_readers(session, 2, start=100, status=SubscriberStatus.PENDING)
        add_readers(session, 1, start=200, status=SubscriberStatus.BOUNCED)
        issue = frozen_issue(session)
        assert claims.enqueue_issue(session, issue, settings=settings, batch_size=3, now=NOW) == 7
    with session_scope(engine) as session:
        assert claims.enqueue_issue(session, issue, settings=settings, batch_size=3, now=NOW) == 0
        add_readers(session, 1, start=300)  # joins after the send began: next issue
        assert claims.enqueue_issue(session, issue, settings=settings, batch_size=3, now=NOW) == 0
    with session_scope(engine, read_only=True) as session:
        batches = session.exec(select(Batch).order_by(col(Batch.number))).all()
        deliveries = session.exec(select(Delivery)).all()
    assert [b.number for b in batches] == [0, 1, 2]
    assert len({b.idempotency_key for b in batches}) == 3
    assert sorted(len([d for d in deliveries if d.batch_id == b.id]) for b in batches) == [1, 3, 3]
    assert {d.status for d in deliveries} == {DeliveryStatus.QUEUED}


def test_a_live_lease_is_not_claimed_twice_and_an_expired_one_is_with_its_key(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        add_readers(session, 4)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=2, now=NOW)
        assert issue.id is not None
        first = claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
        second = claims.claim_batch(session, issue_id=issue.id, owner="b", now=NOW, lease=LEASE)
        none = claims.claim_batch(session, issue_id=issue.id, owner="c", now=NOW, lease=LEASE)
    assert first and second and none is None and first.batch_id != second.batch_id
    later = NOW + LEASE + timedelta(seconds=1)
    with session_scope(engine) as session:
        again = claims.claim_batch(session, issue_id=issue.id, owner="c", now=later, lease=LEASE)
    assert again is not None and again.batch_id == first.batch_id
    assert again.idempotency_key == first.idempotency_key
    assert [r.email for r in again.recipients] == [r.email for r in first.recipients]
    assert not again.shrunk


def test_who_left_after_the_send_began_is_skipped_with_the_reason(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        readers = add_readers(session, 3)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
    with session_scope(engine) as session:
        gone = session.get(Subscriber, readers[1].id)
        assert gone is not None
        gone.status = SubscriberStatus.UNSUBSCRIBED
        session.add(gone)
    with session_scope(engine) as session:
        assert issue.id is not None
        claim = claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
    assert claim is not None and claim.skipped == 1
    assert [r.subscriber_id for r in claim.recipients] == [readers[0].id, readers[2].id]
    with session_scope(engine, read_only=True) as session:
        skipped = session.exec(
            select(Delivery).where(Delivery.subscriber_id == readers[1].id)
        ).one()
        counts = delivery.issue_counts(session, issue.id)
    assert skipped.status == DeliveryStatus.SKIPPED and "unsubscribed" in (skipped.error or "")
    assert counts == {"queued": 2, "sent": 0, "failed": 0, "skipped": 1}


def test_a_batch_that_lost_recipients_after_its_first_payload_is_marked_shrunk(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        readers = add_readers(session, 3)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
        assert issue.id is not None
        claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
    with session_scope(engine) as session:
        gone = session.get(Subscriber, readers[0].id)
        assert gone is not None
        gone.status = SubscriberStatus.BOUNCED
    later = NOW + LEASE * 2
    with session_scope(engine) as session:
        claim = claims.claim_batch(session, issue_id=issue.id, owner="b", now=later, lease=LEASE)
    assert claim is not None and claim.shrunk and len(claim.recipients) == 2


def test_next_due_and_finish(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        add_readers(session, 1)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
        assert issue.id is not None
        assert claims.next_due(session, issue.id) == NOW
        claim = claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
        assert claim is not None
        assert claims.next_due(session, issue.id) == NOW + LEASE
        assert not finish_if_done(session, issue.id, now=NOW)
        assert results.fail_batch(session, claim, error="boom", now=NOW)
        assert claims.next_due(session, issue.id) is None
        assert finish_if_done(session, issue.id, now=NOW)
        assert delivery.failure_reasons(session, issue.id) == [("boom", 1)]


def test_postgresql_claims_skip_a_batch_another_transaction_is_claiming(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = make_test_settings(tmp_path, postgres_url)
    engine = make_engine(postgres_url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, 4)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=2, now=NOW)
    assert issue.id is not None
    with session_scope(engine) as first:
        held = claims.claim_batch(first, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
        # `first` has not committed: its row lock is live. A second claimer must not wait
        # for it nor take the same batch: SKIP LOCKED hands it the next one.
        with session_scope(engine) as second:
            other = claims.claim_batch(second, issue_id=issue.id, owner="b", now=NOW, lease=LEASE)
    assert held is not None and other is not None and held.batch_id != other.batch_id
    engine.dispose()


def test_a_worker_that_lost_its_lease_records_nothing(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        add_readers(session, 2)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
        assert issue.id is not None
        stale = claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
    later = NOW + LEASE * 2
    with session_scope(engine) as session:
        holder = claims.claim_batch(session, issue_id=issue.id, owner="b", now=later, lease=LEASE)
    assert stale is not None and holder is not None and holder.batch_id == stale.batch_id
    answers = [SendResult(r.reference(issue.id), provider_id="x") for r in stale.recipients]
    with session_scope(engine) as session:
        assert not results.renew_lease(session, stale, until=later + LEASE)
        assert not results.record_results(
            session, stale, answers, now=later, resend_at=later, max_attempts=3
        )
        assert not results.fail_batch(session, stale, error="late", now=later)
        assert results.renew_lease(session, holder, until=later + LEASE * 3)
    with session_scope(engine, read_only=True) as session:
        counts = delivery.issue_counts(session, issue.id)
        batch = session.get(Batch, holder.batch_id)
    assert counts["queued"] == 2 and batch is not None
    assert batch.lease_owner == "b" and batch.lease_expires_at == later + LEASE * 3


def test_the_heartbeat_warns_of_a_lost_lease_only_when_another_worker_holds_it(
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A heartbeat that comes between a batch's recorded answers and the worker letting go of
    it finds no lease to renew: that is the normal end of a batch, not a takeover."""
    with session_scope(engine) as session:
        add_readers(session, 4)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=2, now=NOW)
        assert issue.id is not None
        done = claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
        stale = claims.claim_batch(session, issue_id=issue.id, owner="a", now=NOW, lease=LEASE)
    assert done is not None and stale is not None
    answers = [SendResult(r.reference(issue.id), provider_id="x") for r in done.recipients]
    with session_scope(engine) as session:
        assert results.record_results(
            session, done, answers, now=NOW, resend_at=NOW, max_attempts=3
        )
    later = NOW + LEASE * 2
    with session_scope(engine) as session:
        taker = claims.claim_batch(session, issue_id=issue.id, owner="b", now=later, lease=LEASE)
    assert taker is not None and taker.batch_id == stale.batch_id
    job = SendJob(
        engine=engine,
        composer=Composer(settings, issue, now=NOW),
        transport=OutboxTransport(settings.outbox_dir),
        pacer=Pacer(1000),
        policy=RetryPolicy(max_attempts=3),
        lease=LEASE,
        clock=lambda: later,
    )
    job.held.update({id(done): done, id(stale): stale})
    with caplog.at_level(logging.WARNING, logger="digest.delivery.workers"):
        job._renew(done)
        assert "lease lost" not in caplog.text
        job._renew(stale)
    assert f"batch {stale.batch_id}: lease lost to another worker" in caplog.text
    assert job.held == {}  # neither is renewed again
