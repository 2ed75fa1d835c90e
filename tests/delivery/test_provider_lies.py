"""Provider answers that lie, through the real SDK against the fake Resend: a 200 whose body is
not JSON, a batch answer with fewer ids than emails, a 429 without `retry-after`, a connection
reset after the response headers. Nobody is mailed twice, nobody is skipped, and each oddity is
logged with its batch (its idempotency key names the issue and the batch number)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest.config import Settings
from digest.db import session_scope
from digest.models import Batch, Delivery, DeliveryStatus, IssueStatus
from digest.transports.resend import ResendTransport
from tests.support.ledger import run_send, setup_send
from tests.support.resend_server import LIES, FakeResend

READERS = 25
LOGGED = {
    "not_json": "Failed to decode JSON response",
    "fewer_ids": "answered no id for 1 of 5 emails",
    "reset_after_headers": "HttpClientError",
    "bare_429": "no retry-after",
}


@pytest.mark.parametrize("lie", LIES)
def test_a_lying_answer_mails_nobody_twice_and_skips_nobody(
    engine: Engine, settings: Settings, lie: str, caplog: pytest.LogCaptureFixture
) -> None:
    small = settings.model_copy(update={"batch_size": 5})
    issue_id = setup_send(engine, small, READERS)
    with FakeResend() as fake:
        fake.inject(lie)  # the first request meets it
        transport = ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5)
        with caplog.at_level(logging.WARNING, logger="digest"):
            report = run_send(engine, small, issue_id, transport, workers=1)
        assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(READERS)}
    assert report.issue.status == IssueStatus.SENT
    assert report.counts == {"queued": 0, "sent": READERS, "failed": 0, "skipped": 0}
    with session_scope(engine, read_only=True) as session:
        first_key = session.exec(select(Batch.idempotency_key).order_by(col(Batch.number))).first()
        without_id = session.exec(
            select(Delivery).where(
                col(Delivery.status) == DeliveryStatus.SENT, col(Delivery.provider_id).is_(None)
            )
        ).all()
    oddities = [r.getMessage() for r in caplog.records if LOGGED[lie] in r.getMessage()]
    assert oddities and all(str(first_key) in line for line in oddities), caplog.text
    assert len(without_id) == (1 if lie == "fewer_ids" else 0)
