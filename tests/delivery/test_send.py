"""Sending an issue end to end: outbox and the fake Resend server, faults and retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest import delivery
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import claims
from digest.delivery.compose import Composer
from digest.delivery.pacing import Pacer
from digest.delivery.retry import RetryPolicy
from digest.errors import TransportError
from digest.models import (
    Batch,
    BatchStatus,
    Delivery,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
)
from digest.transports.outbox import OutboxTransport
from digest.transports.resend import ResendTransport
from digest.transports.smtp import SmtpTransport
from tests.support.ledger import NOW, add_readers, frozen_issue, run_send, setup_send
from tests.support.outbox import read_outbox
from tests.support.resend_server import FakeResend
from tests.support.smtp_inbox import Inbox, start


@pytest.fixture
def fake() -> Iterator[FakeResend]:
    with FakeResend() as server:
        yield server


def resend_to(fake: FakeResend) -> ResendTransport:
    return ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5)


def small(settings: Settings, size: int = 3) -> Settings:
    return settings.model_copy(update={"batch_size": size})


def test_outbox_send_personalises_each_copy_and_finishes(
    engine: Engine, settings: Settings
) -> None:
    issue_id = setup_send(engine, small(settings), 7)
    report = run_send(engine, settings, issue_id, OutboxTransport(settings.outbox_dir))
    assert (
        report.finished and report.counts["sent"] == 7 and report.issue.status == IssueStatus.SENT
    )
    messages = {str(m["To"]): m for m in read_outbox(settings.outbox_dir)}
    assert len(messages) == 7
    one = messages["reader3@example.com"]
    unsubscribe = header_url(one["List-Unsubscribe"])
    assert unsubscribe.startswith("http://digest.test/unsubscribe/")
    assert one["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = one.get_body(("html",))
    assert html is not None and "[[digest:" not in html.get_content()
    assert unsubscribe.replace("&", "&amp;") in html.get_content()
    assert unsubscribe != header_url(messages["reader4@example.com"]["List-Unsubscribe"])


def test_a_second_run_sends_nothing_new(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, small(settings), 5)
    run_send(engine, settings, issue_id, resend_to(fake))
    report = run_send(engine, settings, issue_id, resend_to(fake))
    assert report.tally.sent == 0 and fake.recipients() == {
        f"reader{n}@example.com": 1 for n in range(5)
    }


def test_provider_ids_are_stored_per_recipient(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, small(settings), 4)
    run_send(engine, settings, issue_id, resend_to(fake))
    with session_scope(engine, read_only=True) as session:
        stored = {d.provider_id for d in session.exec(select(Delivery)).all()}
    assert stored == {e["id"] for e in fake.accepted}


def test_5xx_and_dropped_connections_are_retried(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, small(settings), 6)
    fake.inject("status", status=503)
    fake.inject("drop_after")
    fake.inject("drop_before")
    patient = RetryPolicy(max_attempts=4, base_seconds=0.01, cap_seconds=0.05)
    report = run_send(engine, settings, issue_id, resend_to(fake), workers=1, policy=patient)
    assert report.counts == {"queued": 0, "sent": 6, "failed": 0, "skipped": 0}
    assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(6)}


def test_5xx_beyond_the_bound_pauses_the_issue_and_resets_the_attempts(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, small(settings), 2)
    fake.inject("status", status=500, count=3)  # FAST allows 3 attempts
    report = run_send(engine, settings, issue_id, resend_to(fake), workers=1)
    assert report.counts["queued"] == 2 and fake.recipients() == {}
    assert report.issue.status == IssueStatus.PAUSED  # resumes later, nobody failed for good
    with session_scope(engine, read_only=True) as session:
        batch = session.exec(select(Batch)).one()
    assert batch.attempts == 0 and "500" in (batch.last_error or "")
    assert batch.status == BatchStatus.PENDING


def test_other_4xx_fail_at_once_and_are_never_retried(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, small(settings), 2)
    fake.inject("status", status=422)
    report = run_send(engine, settings, issue_id, resend_to(fake), workers=1)
    assert report.counts["failed"] == 2 and sum(fake.statuses.values()) == 1


def test_one_bad_address_never_blocks_its_batch(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    with session_scope(engine) as session:
        readers = add_readers(session, 3)
        readers[1].email = "broken-address"
        session.add(readers[1])
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=10, now=NOW)
    assert issue.id is not None
    report = run_send(engine, settings, issue.id, resend_to(fake))
    assert report.counts["sent"] == 2 and report.counts["failed"] == 1
    assert set(fake.recipients()) == {"reader0@example.com", "reader2@example.com"}


def test_rate_limited_sends_wait_and_nobody_is_mailed_twice(
    engine: Engine, settings: Settings
) -> None:
    issue_id = setup_send(engine, small(settings, 1), 6)
    pacer = Pacer(1000)  # far above the fake's 4/s: the first answer's headers must slow it
    with FakeResend(rate_limit=4) as limited:
        transport = ResendTransport(
            api_key=limited.api_key, api_url=limited.url, timeout=5, observer=pacer.observe
        )
        report = delivery.send_issue(
            engine, settings, issue_id, transport=transport, pacer=pacer, workers=3, now=NOW
        )
    assert report.counts["sent"] == 6
    assert limited.recipients() == {f"reader{n}@example.com": 1 for n in range(6)}
    assert limited.statuses[429] == 0  # paced from the first answer's ratelimit-policy


def test_quota_pauses_the_issue_and_a_later_run_resumes(engine: Engine, settings: Settings) -> None:
    issue_id = setup_send(engine, small(settings), 7)
    with FakeResend(quota=4) as quota:
        report = run_send(engine, settings, issue_id, resend_to(quota), workers=1)
        assert report.issue.status == IssueStatus.PAUSED and report.tally.paused
        assert "daily_quota_exceeded" in (report.issue.pause_reason or "")
        assert report.counts["sent"] == 3 and report.counts["queued"] == 4
        quota.quota = None  # a new day
        report = run_send(engine, settings, issue_id, resend_to(quota), workers=2)
        assert report.issue.status == IssueStatus.SENT and report.counts["sent"] == 7
        assert quota.recipients() == {f"reader{n}@example.com": 1 for n in range(7)}


def test_unsubscribing_between_a_lost_answer_and_the_retry(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    """The first payload reached the provider (answer lost); the retry carries one fewer reader.

    The provider refuses the changed payload under the same key (409), which proves the first
    one went through: the others are recorded sent, and nobody gets a second copy.
    """
    issue_id = setup_send(engine, small(settings, 10), 3)
    fake.inject("drop_after")
    transport = resend_to(fake)
    with session_scope(engine) as session:
        claim = claims.claim_batch(
            session, issue_id=issue_id, owner="a", now=NOW, lease=ledger_lease()
        )
    assert claim is not None
    with session_scope(engine, read_only=True) as session:
        issue = session.get(Issue, issue_id)
    assert issue is not None
    with pytest.raises(TransportError):  # the answer is lost, as a crash would lose it
        transport.send_batch(
            Composer(settings, issue, now=NOW).build(claim), idempotency_key=claim.idempotency_key
        )
    unsubscribe(engine, "reader1@example.com")
    expire_leases(engine)
    report = run_send(engine, settings, issue_id, transport)
    assert report.counts == {"queued": 0, "sent": 2, "failed": 0, "skipped": 1}
    assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(3)}


def test_unsubscribing_before_the_first_payload_arrived(
    engine: Engine, settings: Settings, fake: FakeResend
) -> None:
    issue_id = setup_send(engine, small(settings, 10), 3)
    with session_scope(engine) as session:
        claims.claim_batch(session, issue_id=issue_id, owner="a", now=NOW, lease=ledger_lease())
    # ...and the worker died before its request left: the provider never saw the key.
    unsubscribe(engine, "reader1@example.com")
    expire_leases(engine)
    report = run_send(engine, settings, issue_id, resend_to(fake))
    assert report.counts == {"queued": 0, "sent": 2, "failed": 0, "skipped": 1}
    assert fake.recipients() == {"reader0@example.com": 1, "reader2@example.com": 1}


def ledger_lease() -> timedelta:
    return timedelta(seconds=60)


def header_url(value: object) -> str:
    """A folded `<url>` header back in one piece."""
    return "".join(str(value).split()).strip("<>")


def unsubscribe(engine: Engine, address: str) -> None:
    with session_scope(engine) as session:
        reader = session.exec(select(Subscriber).where(Subscriber.email == address)).one()
        reader.status = SubscriberStatus.UNSUBSCRIBED
        session.add(reader)


def expire_leases(engine: Engine) -> None:
    """As if the lease ran out (the sender clock is real; the ledger's lease is what moves)."""
    with session_scope(engine) as session:
        for batch in session.exec(select(Batch)).all():
            if batch.lease_expires_at is not None:
                batch.lease_expires_at = NOW
                session.add(batch)


def test_an_issue_over_real_smtp_with_one_refused_reader(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        readers = add_readers(session, 5)
        readers[2].email = "refused@example.com"  # the server answers 550 for this one
        session.add(readers[2])
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=2, now=NOW)
    assert issue.id is not None
    inbox = Inbox()
    controller = start(inbox)
    try:
        transport = SmtpTransport(f"smtp://127.0.0.1:{controller.port}", timeout=5)
        report = run_send(engine, settings, issue.id, transport)
    finally:
        controller.stop()
    assert report.counts == {"queued": 0, "sent": 4, "failed": 1, "skipped": 0}
    assert sorted(str(m["To"]) for m in inbox.messages) == [
        f"reader{n}@example.com" for n in (0, 1, 3, 4)
    ]
    with session_scope(engine, read_only=True) as session:
        assert delivery.failure_reasons(session, issue.id)[0][0].startswith("550")


def test_readers_at_internationalised_domains_over_smtp_never_pause_the_issue(
    engine: Engine, settings: Settings
) -> None:
    """A server without SMTPUTF8 (as many are): the IDN reader is sent as punycode, the
    reader whose address cannot be written in ASCII fails alone with the reason, as does one
    the server refuses; nobody else waits and the issue finishes."""
    with session_scope(engine) as session:
        readers = add_readers(session, 5)
        for reader, address in zip(
            readers[1:4],
            ["leser@bücher.example", "jörg@example.com", "refused@example.com"],
            strict=True,
        ):
            reader.email = address
            session.add(reader)
        issue = frozen_issue(session)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=5, now=NOW)
    assert issue.id is not None
    inbox = Inbox()
    controller = start(inbox, enable_SMTPUTF8=False)
    try:
        transport = SmtpTransport(f"smtp://127.0.0.1:{controller.port}", timeout=5)
        report = run_send(engine, settings, issue.id, transport)
    finally:
        controller.stop()
    assert report.issue.status == IssueStatus.SENT and report.issue.pause_reason is None
    assert report.counts == {"queued": 0, "sent": 3, "failed": 2, "skipped": 0}
    assert sorted(rcpt for _, [rcpt] in inbox.envelopes) == [
        "leser@xn--bcher-kva.example",
        "reader0@example.com",
        "reader4@example.com",
    ]
    with session_scope(engine, read_only=True) as session:
        reasons = " | ".join(reason for reason, _ in delivery.failure_reasons(session, issue.id))
    assert "non-ASCII local part" in reasons and "550 5.1.1 no such user" in reasons
