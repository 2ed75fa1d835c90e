"""Delivery throughput against the fake Resend server (run as its own process).

1. No rate limit: our pipeline (enqueue + claim + personalise + SDK + ledger writes) in emails/s
   against the wire limit measured in the same run: plain `requests.Session`s posting the same
   pre-built payloads to the same kind of fake, with the same number of connections. Goal >= 0.8.
2. The fake limited to R requests/s: total time against the floor (batches / R). Goal <= 1.1.
   Once with DIGEST_RATE_LIMIT=R, once with it far above R (the pacer learns R from headers).

Environment: BENCH_READERS (20000), BENCH_PACED_READERS (5000; at R/s the floor alone is
batches / R, so the paced runs are smaller), BENCH_RATE (5), BENCH_WORKERS (4), BENCH_ROUNDS (3:
wire and pipeline alternated, median and range).
"""

from __future__ import annotations

import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import catalog, delivery  # noqa: E402
from digest.config import Settings, get_settings  # noqa: E402
from digest.db import make_engine, session_scope  # noqa: E402
from digest.delivery import claims  # noqa: E402
from digest.delivery.claims import Claim, Recipient  # noqa: E402
from digest.delivery.compose import Composer  # noqa: E402
from digest.delivery.pacing import Pacer  # noqa: E402
from digest.demo import sample_documents  # noqa: E402
from digest.models import Issue, Subscriber, metadata  # noqa: E402
from digest.readers.subscriptions import email_hash  # noqa: E402
from digest.transports import make_transport  # noqa: E402
from digest.transports.resend import to_params  # noqa: E402

READERS = int(os.environ.get("BENCH_READERS", "20000"))
PACED_READERS = int(os.environ.get("BENCH_PACED_READERS", "5000"))
RATE = float(os.environ.get("BENCH_RATE", "5"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH = 100
API_KEY = "re_bench_key"
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


class Fake:
    """tests/support/resend_server.py in its own process, so it never shares our GIL."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "tests.support.resend_server", "--api-key", API_KEY, *args]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def stats(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/_stats", timeout=10).json())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def make_store(
    folder: Path, url: str, rate: float, readers: int = READERS
) -> tuple[Settings, Any, Issue]:
    """A fresh SQLite store: the sample comparisons, READERS confirmed readers, a frozen issue."""
    settings = get_settings(
        _env_file=None,
        database_url=f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}",
        secret_key="bench-secret-key-0123456789-0123456789",
        transport="resend",
        resend_api_key=API_KEY,
        resend_api_url=url,
        rate_limit=rate,
        batch_size=BATCH,
        send_workers=WORKERS,
        base_url="https://digest.example",
        secret_file=folder / "secret",
    )
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=NOW - timedelta(days=1))
        session.execute(insert(Subscriber), [reader_row(n) for n in range(readers)])
        issue = delivery.open_period_issue(session, settings, now=NOW)
    return settings, engine, issue


def reader_row(n: int) -> dict[str, Any]:
    address = f"reader{n}@example.com"
    return {
        "email": address,
        "email_hash": email_hash(address),
        "name": f"Reader {n}",
        "status": "confirmed",
        "created_at": NOW,
        "confirmed_at": NOW,
        "consent_route": "import",
        "consent_at": NOW,
    }


def prebuilt_payloads(settings: Settings, engine: Any, issue: Issue) -> list[list[dict[str, Any]]]:
    composer = Composer(settings, issue, now=NOW)
    with session_scope(engine, read_only=True) as session:
        table = Subscriber.__table__  # type: ignore[attr-defined]
        readers = session.execute(select(table.c.id, table.c.email, table.c.email_hash)).all()
    recipients = [Recipient(0, r[0], r[1], r[2]) for r in readers]
    return [
        [
            to_params(e, idempotency_key=f"bench-{i}")
            for e in composer.build(
                Claim(0, composer.issue_id, "", recipients[i : i + BATCH], False)
            )
        ]
        for i in range(0, len(recipients), BATCH)
    ]


def run_wire(url: str, payloads: list[list[dict[str, Any]]]) -> float:
    work: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for payload in payloads:
        work.put(payload)

    def post_all() -> None:
        session = requests.Session()
        while True:
            try:
                payload = work.get_nowait()
            except queue.Empty:
                return
            headers = {
                "Authorization": f"Bearer {API_KEY}",
                "Idempotency-Key": uuid.uuid4().hex,
                "x-batch-validation": "permissive",
            }
            response = session.post(
                f"{url}/emails/batch", json=payload, headers=headers, timeout=60
            )
            assert response.status_code == 200, response.text

    started = time.perf_counter()
    threads = [threading.Thread(target=post_all) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run_pipeline(settings: Settings, engine: Any, issue: Issue) -> float:
    assert issue.id is not None
    pacer = Pacer(settings.rate_limit)
    transport = make_transport(settings, observer=pacer.observe)
    started = time.perf_counter()
    with session_scope(engine) as session:  # part of the timed work: the ledger rows
        claims.enqueue_issue(session, issue, settings=settings, batch_size=BATCH, now=NOW)
    report = delivery.send_issue(
        engine, settings, issue.id, transport=transport, pacer=pacer, workers=WORKERS, now=NOW
    )
    elapsed = time.perf_counter() - started
    transport.close()
    assert report.counts["queued"] == 0 and report.counts["failed"] == 0, report.counts
    return elapsed


def unlimited(folder: Path) -> tuple[float, float]:
    wire_fake = Fake()
    settings, engine, issue = make_store(folder, wire_fake.url, rate=1e6)
    payloads = prebuilt_payloads(settings, engine, issue)
    wire = run_wire(wire_fake.url, payloads)
    wire_fake.stop()
    fake = Fake()
    settings, engine, issue = make_store(folder, fake.url, rate=1e6)
    ours = run_pipeline(settings, engine, issue)
    stats = fake.stats()
    fake.stop()
    assert stats["recipients"] == READERS and stats["most_per_recipient"] == 1, stats
    return READERS / wire, READERS / ours


def paced(folder: Path, configured: float) -> tuple[float, dict[str, Any]]:
    fake = Fake("--rate-limit", f"{RATE:g}")
    settings, engine, issue = make_store(folder, fake.url, rate=configured, readers=PACED_READERS)
    elapsed = run_pipeline(settings, engine, issue)
    stats = fake.stats()
    fake.stop()
    return elapsed, stats


def spread(values: list[float], fmt: str) -> str:
    """Median (min-max)."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(mid)} ({fmt.format(low)}-{fmt.format(high)})"


def main() -> None:
    batches = -(-READERS // BATCH)
    print(f"{READERS} recipients, {batches} batches of {BATCH}, {WORKERS} workers")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wires, ours = [], []
        for _ in range(ROUNDS):  # wire and pipeline alternated: the machine's drift hits both
            wire_rate, our_rate = unlimited(folder)
            wires.append(wire_rate)
            ours.append(our_rate)
        ratios = [o / w for o, w in zip(ours, wires, strict=True)]
        print(
            f"no rate limit, {ROUNDS} interleaved rounds: wire {spread(wires, '{:,.0f}')} "
            f"emails/s · ours {spread(ours, '{:,.0f}')} emails/s · ratio "
            f"{spread(ratios, '{:.2f}')} (goal >= 0.8)"
        )
        floor = -(-PACED_READERS // BATCH) / RATE
        for label, configured in (("DIGEST_RATE_LIMIT=R", RATE), ("learned from headers", 1000.0)):
            elapsed, stats = paced(folder, configured)
            print(
                f"fake at {RATE:g} req/s, {label}: {elapsed:.1f} s vs floor {floor:.1f} s "
                f"· ratio {elapsed / floor:.3f} (goal <= 1.1) · answers {stats['statuses']}"
            )


if __name__ == "__main__":
    main()
