"""A storm of Resend webhooks over real HTTP, on both engines: 5,000 Svix-signed events, a
third of them replays, shuffled so that many bounces arrive before their delivered event, from
8 concurrent clients. Every event is applied once, the suppression list is exact, no answer is
a 500 and no write times out on a lock. Prints events/s."""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, insert
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from svix.webhooks import Webhook

from digest.config import Settings
from digest.db import session_scope
from digest.models import (
    Batch,
    BatchStatus,
    Delivery,
    DeliveryMark,
    DeliveryStatus,
    Subscriber,
    WebhookEvent,
)
from tests.support.cli import DIGEST, digest_env
from tests.support.ledger import add_readers, frozen_issue
from tests.support.live_server import free_port
from tests.webhooks.test_webhooks import SECRET

READERS = 1200
TOTAL = 5000
CLIENTS = 8
HARD = range(0, 600)  # readers whose mail bounced for good
COMPLAINED = range(600, 900)
SOFT = range(900, 1200)  # a transient bounce: recorded, not suppressed


def sent_issue(engine: Engine) -> None:
    """READERS readers, each with a sent delivery of issue #1 whose provider id is em_<n>."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        readers = add_readers(session, READERS)
        issue = frozen_issue(session)
        batch = Batch(issue_id=issue.id or 0, number=0, idempotency_key="storm",
                      status=BatchStatus.DONE, next_attempt_at=now)  # fmt: skip
        session.add(batch)
        session.flush()
        rows = [
            {"issue_id": issue.id, "subscriber_id": reader.id, "batch_id": batch.id,
             "status": DeliveryStatus.SENT, "attempts": 1, "provider_id": f"em_{n}",
             "created_at": now}
            for n, reader in enumerate(readers)
        ]  # fmt: skip
        session.execute(insert(Delivery), rows)


@pytest.fixture
def storm_url(tmp_path: Path, settings: Settings, engine: Engine) -> Iterator[str]:
    sent_issue(engine)
    port = free_port()
    env = digest_env(
        tmp_path,
        settings.database_url,
        RESEND_WEBHOOK_SECRET=SECRET,
        DIGEST_SECRET_KEY=settings.secret,
    )
    # Its own process, as in production: the 8 clients here do not share its interpreter.
    server = subprocess.Popen(
        [DIGEST, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=30)


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    err = server.stderr.read().decode(errors="replace") if server.stderr else ""
    raise RuntimeError(f"digest serve did not start: {err}")


def unique_events() -> list[tuple[str, bytes]]:
    """Per reader a delivered event and a hard bounce, a complaint or a transient bounce; then
    `opened` events (recorded, not acted on) up to two thirds of TOTAL."""
    events: list[tuple[str, int, dict[str, object]]] = []
    for n in range(READERS):
        events.append(("email.delivered", n, {}))
        if n in HARD:
            events.append(("email.bounced", n, {"bounce": {"type": "Permanent"}}))
        elif n in COMPLAINED:
            events.append(("email.complained", n, {}))
        else:
            events.append(("email.bounced", n, {"bounce": {"type": "Transient"}}))
    events += [("email.opened", n % READERS, {}) for n in range(TOTAL * 2 // 3 - len(events))]
    return [(f"msg_{i}", body(kind, n, extra)) for i, (kind, n, extra) in enumerate(events)]


def body(kind: str, n: int, extra: dict[str, object]) -> bytes:
    data = {"email_id": f"em_{n}", "to": [f"reader{n}@example.com"], **extra}
    return json.dumps(
        {"type": kind, "created_at": "2026-11-16T08:00:00.000Z", "data": data}
    ).encode()


def post_all(url: str, work: list[tuple[str, bytes]]) -> Counter[int]:
    """8 clients share the queue; each request is signed when it is sent, as Svix retries are."""
    signer, statuses, lock = Webhook(SECRET), Counter[int](), threading.Lock()
    queue = iter(work)

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                msg_id, body = item
                now = datetime.now(UTC)
                headers = {"svix-id": msg_id, "svix-timestamp": str(int(now.timestamp())),
                           "svix-signature": signer.sign(msg_id, now, body.decode()),
                           "content-type": "application/json"}  # fmt: skip
                code = http.post("/webhooks/resend", content=body, headers=headers).status_code
                with lock:
                    statuses[code] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.slow
def test_a_storm_of_replayed_shuffled_webhooks_is_applied_once(
    storm_url: str, engine: Engine
) -> None:
    rng = random.Random(15)
    events = unique_events()
    work = events + [rng.choice(events) for _ in range(TOTAL - len(events))]
    rng.shuffle(work)
    assert len(work) == TOTAL and TOTAL - len(events) >= TOTAL // 3 - 1
    started = time.monotonic()
    statuses = post_all(storm_url, work)
    elapsed = time.monotonic() - started
    rate = TOTAL / elapsed
    print(
        f"\n{TOTAL} webhook events in {elapsed:.1f} s: {rate:.0f} events/s ({engine.dialect.name})"
    )
    assert statuses == {200: TOTAL}
    with session_scope(engine, read_only=True) as session:
        stored = session.exec(select(func.count()).select_from(WebhookEvent)).one()
        marks = Counter(session.exec(select(DeliveryMark.event)).all())
        gone = select(Subscriber).where(col(Subscriber.suppressed_at).is_not(None))
        suppressed = {(s.email, str(s.status)) for s in session.exec(gone).all()}
    assert stored == len(events)
    assert marks == {
        "delivered": READERS,
        "bounced": len(HARD) + len(SOFT),
        "complained": len(COMPLAINED),
    }
    assert suppressed == {(f"reader{n}@example.com", "bounced") for n in HARD} | {
        (f"reader{n}@example.com", "complained") for n in COMPLAINED
    }
