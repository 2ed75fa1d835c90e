"""Faults beyond one batch: outages, slow sends and leases, temporary refusals, old keys."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import delivery
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import claims
from digest.delivery.pacing import Pacer
from digest.delivery.retry import RetryPolicy
from digest.delivery.send import clock_from
from digest.errors import TransportError
from digest.models import Batch, Delivery, DeliveryStatus, IssueStatus
from digest.transports.base import OutgoingEmail, SendResult
from digest.transports.outbox import OutboxTransport
from digest.transports.resend import ResendTransport
from tests.support.ledger import FAST, NOW, run_send, setup_send
from tests.support.resend_server import FakeResend


@pytest.fixture
def fake() -> Iterator[FakeResend]:
    with FakeResend() as server:
        yield server


def resend_to(fake: FakeResend) -> ResendTransport:
    return ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5)


def everyone(count: int) -> dict[str, int]:
    return {f"reader{n}@example.com": 1 for n in range(count)}


def test_an_outage_pauses_the_issue_and_a_resume_sends_everyone_once(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, settings.model_copy(update={"batch_size": 3}), 6)
    fake.inject("status", status=503, count=50)  # far beyond FAST's 3 attempts per batch
    report = run_send(engine, settings, issue_id, resend_to(fake), workers=2)
    assert report.issue.status == IssueStatus.PAUSED and report.tally.paused
    assert report.counts == {"queued": 6, "sent": 0, "failed": 0, "skipped": 0}
    reason = report.issue.pause_reason or ""
    assert "provider unavailable" in reason and "503" in reason and "resumes" in reason
    with fake.lock:
        fake.faults.clear()  # the provider is back
    report = run_send(engine, settings, issue_id, resend_to(fake), workers=2)
    assert report.issue.status == IssueStatus.SENT
    assert report.counts == {"queued": 0, "sent": 6, "failed": 0, "skipped": 0}
    assert fake.recipients() == everyone(6)


def test_a_send_slower_than_the_lease_is_never_sent_twice(
    engine: Engine, settings: Settings
) -> None:
    issue_id = setup_send(engine, settings.model_copy(update={"batch_size": 2}), 3)
    short = settings.model_copy(update={"send_lease_seconds": 0.6})
    with FakeResend(delay=1.6) as slow:
        report = run_send(engine, short, issue_id, resend_to(slow), workers=3)
        assert set(slow.key_requests.values()) == {1} and len(slow.key_requests) == 2
        assert slow.recipients() == everyone(3)
    assert report.counts == {"queued": 0, "sent": 3, "failed": 0, "skipped": 0}


class Greylisting(OutboxTransport):
    """Writes to the outbox, but refuses chosen readers for a while with a temporary 450."""

    def __init__(self, settings: Settings, refusals: dict[str, int]) -> None:
        super().__init__(settings.outbox_dir)
        self.refusals = dict(refusals)
        self.mailed: Counter[str] = Counter()
        self.keys: list[str] = []

    def send_batch(
        self, emails: Sequence[OutgoingEmail], *, idempotency_key: str
    ) -> list[SendResult]:
        self.keys.append(idempotency_key)
        results = []
        for email in emails:
            if self.refusals.get(email.to, 0) > 0:
                self.refusals[email.to] -= 1
                results.append(SendResult(email.reference, error="450 greylisted, try later"))
            else:
                self.mailed[email.to] += 1
                results.append(super().send_batch([email], idempotency_key=idempotency_key)[0])
        return results


def test_temporary_refusals_are_sent_again_later_in_a_new_batch_then_fail(
    engine: Engine, settings: Settings
) -> None:
    issue_id = setup_send(engine, settings.model_copy(update={"batch_size": 3}), 6)
    transport = Greylisting(settings, {"reader1@example.com": 2, "reader4@example.com": 99})
    report = run_send(engine, settings, issue_id, transport, workers=2)
    assert report.counts == {"queued": 0, "sent": 5, "failed": 1, "skipped": 0}
    assert transport.mailed == {a: 1 for a in everyone(6) if a != "reader4@example.com"}
    assert len(set(transport.keys)) == len(transport.keys)  # every follow-up has its own key
    with session_scope(engine, read_only=True) as session:
        reasons = delivery.failure_reasons(session, issue_id)
        attempts = {d.subscriber_id: d.attempts for d in session.exec(select(Delivery)).all()}
    assert len(reasons) == 1 and "450 greylisted" in reasons[0][0] and "3" in reasons[0][0]
    assert sorted(attempts.values()) == [1, 1, 1, 1, 3, 3]
    assert report.issue.status == IssueStatus.SENT


def test_a_batch_first_tried_beyond_the_idempotency_window_is_not_sent_again(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, settings.model_copy(update={"batch_size": 2}), 4)
    with session_scope(engine) as session:  # a worker claims batch 0, sends, and dies unrecorded
        first = claims.claim_batch(
            session, issue_id=issue_id, owner="a", now=NOW, lease=timedelta(seconds=60)
        )
    assert first is not None
    report = delivery.send_issue(
        engine,
        settings,
        issue_id,
        transport=resend_to(fake),
        pacer=Pacer(1000),
        workers=1,
        now=NOW + timedelta(hours=24),
        policy=FAST,
    )
    assert report.counts == {"queued": 0, "sent": 2, "failed": 2, "skipped": 0}
    assert set(fake.recipients()) == {"reader2@example.com", "reader3@example.com"}
    with session_scope(engine, read_only=True) as session:
        reasons = delivery.failure_reasons(session, issue_id)
        batches = session.exec(select(Batch).order_by(col(Batch.number))).all()
    assert "unknown whether delivered" in reasons[0][0] and reasons[0][1] == 2
    assert batches[0].first_attempt_at == NOW


def test_a_batch_retried_within_the_window_is_sent_with_its_key(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, settings.model_copy(update={"batch_size": 2}), 2)
    with session_scope(engine) as session:
        claims.claim_batch(
            session, issue_id=issue_id, owner="a", now=NOW, lease=timedelta(seconds=60)
        )
    report = delivery.send_issue(
        engine,
        settings,
        issue_id,
        transport=resend_to(fake),
        pacer=Pacer(1000),
        workers=1,
        now=NOW + timedelta(hours=22),
        policy=FAST,
    )
    assert report.counts["sent"] == 2 and fake.recipients() == everyone(2)
    with session_scope(engine, read_only=True) as session:
        assert {d.status for d in session.exec(select(Delivery)).all()} == {DeliveryStatus.SENT}


def test_the_same_key_in_flight_twice_is_409_and_the_retry_gets_the_stored_answer() -> None:
    email = OutgoingEmail(
        reference="i1-s1",
        to="reader0@example.com",
        from_email="digest@example.com",
        subject="Hello",
        html="<p>Hi</p>",
        text="Hi",
    )
    with FakeResend(delay=0.8) as slow:
        outcomes: list[list[SendResult] | TransportError] = []

        def post() -> None:
            try:
                outcomes.append(resend_to(slow).send_batch([email], idempotency_key="k-1"))
            except TransportError as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused = [o for o in outcomes if isinstance(o, TransportError)]
        answered = [o for o in outcomes if isinstance(o, list)]
        assert len(refused) == 1 and len(answered) == 1
        assert "concurrent_idempotent_requests" in refused[0].message
        assert refused[0].retryable and refused[0].retry_after
        again = resend_to(slow).send_batch([email], idempotency_key="k-1")
        assert again[0].provider_id == answered[0][0].provider_id
        assert slow.recipients() == {"reader0@example.com": 1} and slow.statuses[409] == 1


def test_a_reader_refused_for_minutes_leaves_the_send_unfinished_not_waiting(
    engine: Engine, settings: Settings
) -> None:
    """Greylisting wants minutes: the run ends unfinished at once, a later run delivers."""
    issue_id = setup_send(engine, settings, 3)
    transport = Greylisting(settings, {"reader1@example.com": 1})
    patient = RetryPolicy(max_attempts=3, base_seconds=0.01, cap_seconds=600)
    started = time.monotonic()
    first = run_send(engine, settings, issue_id, transport, policy=patient)
    assert time.monotonic() - started < 30
    assert first.counts == {"queued": 1, "sent": 2, "failed": 0, "skipped": 0}
    assert first.issue.status == IssueStatus.SENDING
    later = clock_from(NOW + timedelta(minutes=10))
    second = delivery.send_issue(
        engine,
        settings,
        issue_id,
        transport=transport,
        pacer=Pacer(1000),
        workers=1,
        now=NOW + timedelta(minutes=10),
        clock=later,
        policy=patient,
    )
    assert second.counts == {"queued": 0, "sent": 3, "failed": 0, "skipped": 0}
    assert transport.mailed == everyone(3)
