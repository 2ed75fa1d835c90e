"""Several senders at once: two processes on PostgreSQL, and a reader leaving mid-send."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.config import Settings
from digest.db import make_engine, session_scope
from digest.delivery import SendReport
from digest.models import Delivery, DeliveryStatus, Subscriber, metadata
from digest.readers import subscriptions
from digest.transports.resend import ResendTransport
from tests.support.cli import DIGEST, digest_env
from tests.support.ledger import NOW, add_readers, frozen_issue, run_send, setup_send
from tests.support.resend_server import FakeResend


def test_two_sender_processes_on_postgresql_never_share_a_batch(
    tmp_path: Path, postgres_url: str
) -> None:
    engine = make_engine(postgres_url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        add_readers(session, 400)
        frozen_issue(session)
    with FakeResend(delay=0.05) as fake:
        env = digest_env(
            tmp_path,
            postgres_url,
            DIGEST_TRANSPORT="resend",
            RESEND_API_KEY=fake.api_key,
            RESEND_API_URL=fake.url,
            DIGEST_RATE_LIMIT="1000",
            DIGEST_BATCH_SIZE="10",
            DIGEST_SEND_WORKERS="3",
            DIGEST_SECRET_KEY="k" * 40,
        )
        senders = [
            subprocess.Popen(
                [DIGEST, "issue", "send"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        errors = [p.communicate(timeout=120)[1].decode() for p in senders]
        assert [p.returncode for p in senders] == [0, 0], errors
        assert fake.recipients() == {f"reader{n}@example.com": 1 for n in range(400)}
        assert len(fake.key_requests) == 40 and set(fake.key_requests.values()) == {1}
    with session_scope(engine, read_only=True) as session:
        statuses = {d.status for d in session.exec(select(Delivery)).all()}
    assert statuses == {DeliveryStatus.SENT}
    engine.dispose()


def test_a_reader_who_unsubscribes_mid_send_gets_nothing_after(
    engine: Engine, settings: Settings
) -> None:
    small = settings.model_copy(update={"batch_size": 5})
    issue_id = setup_send(engine, small, 40)
    leaving = [f"reader{n}@example.com" for n in (31, 38)]
    with FakeResend(delay=0.15) as fake:
        transport = ResendTransport(api_key=fake.api_key, api_url=fake.url, timeout=5)
        reports: list[SendReport] = []
        sender = threading.Thread(
            target=lambda: reports.append(
                run_send(engine, settings, issue_id, transport, workers=1)
            )
        )
        sender.start()
        while not fake.accepted:
            time.sleep(0.01)
        with session_scope(engine) as session:
            for address in leaving:
                reader = session.exec(select(Subscriber).where(Subscriber.email == address)).one()
                assert reader.id is not None
                subscriptions.unsubscribe_subscriber(session, reader.id, now=NOW)
        left_at = time.time()
        sender.join(timeout=60)
    received = fake.recipients()
    assert all(received[a] == 0 for a in leaving)
    assert all(e["at"] < left_at for e in fake.accepted if e["to"][0] in leaving)
    assert sum(received.values()) == 38 and set(received.values()) == {1}
    assert reports[0].counts == {"queued": 0, "sent": 38, "failed": 0, "skipped": 2}
