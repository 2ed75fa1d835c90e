"""Delivery throughput against the fake Resend server (run as its own process).

1. No rate limit, per engine: our pipeline (enqueue + claim + personalise + SDK + ledger
   writes) in emails/s against the wire limit measured in the same run: plain
   `requests.Session`s posting the same payloads, pre-built and pre-encoded, to the same kind of
   fake, with the same number of connections. Goal >= 0.8.
2. Processes (PostgreSQL): the same send by 1, then 2, ... sender processes on one issue (what
   `digest issue send --processes N` runs), interleaved; emails/s and the speed-up over 1.
3. The fake limited to R requests/s: total time against the floor (batches / R). Goal <= 1.1.
   Once with DIGEST_RATE_LIMIT=R, once with it far above R (the pacer learns R from headers).

Environment: BENCH_READERS (100000), BENCH_ENGINES (sqlite,postgres), BENCH_PROCESSES (1,2;
empty: no series), BENCH_PACED (1; 0 skips part 3), BENCH_PACED_READERS (5000; at R/s the floor
alone is batches / R, so the paced runs are smaller), BENCH_RATE (5), BENCH_WORKERS (4),
BENCH_ROUNDS (3: wire and pipeline alternated, median and range), BENCH_PG_URL
(postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, insert, select, text

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
from digest.transports.batch_json import encode_body  # noqa: E402
from digest.transports.resend import to_params  # noqa: E402

READERS = int(os.environ.get("BENCH_READERS", "100000"))
ENGINES = [e for e in os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",") if e]
SERIES = [int(n) for n in os.environ.get("BENCH_PROCESSES", "1,2").split(",") if n]
PACED = os.environ.get("BENCH_PACED", "1") == "1"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
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


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_settings(folder: Path, database_url: str, url: str, rate: float) -> dict[str, Any]:
    """The settings as keywords (a child process builds its own from them)."""
    return {
        "_env_file": None,
        "database_url": database_url,
        "secret_key": "bench-secret-key-0123456789-0123456789",
        "transport": "resend",
        "resend_api_key": API_KEY,
        "resend_api_url": url,
        "rate_limit": rate,
        "batch_size": BATCH,
        "send_workers": WORKERS,
        "base_url": "https://digest.example",
        "secret_file": folder / "secret",
    }


def make_store(
    folder: Path, database_url: str, url: str, rate: float, readers: int = READERS
) -> tuple[Settings, Any, Issue]:
    """A fresh store: the sample comparisons, `readers` confirmed readers, a frozen issue."""
    settings = get_settings(**bench_settings(folder, database_url, url, rate))
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=NOW - timedelta(days=1))
    for first in range(0, readers, 10_000):
        with session_scope(engine) as session:
            rows = [reader_row(n) for n in range(first, min(first + 10_000, readers))]
            session.execute(insert(Subscriber), rows)
    with session_scope(engine) as session:
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
    work: queue.Queue[bytes] = queue.Queue()
    for payload in payloads:  # encoded before the clock starts: the wire pays no encoding
        work.put(encode_body(payload))

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
                "Content-Type": "application/json",
            }
            response = session.post(
                f"{url}/emails/batch", data=payload, headers=headers, timeout=60
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


def unlimited(folder: Path, kind: str) -> tuple[float, float]:
    wire_fake = Fake()
    with database(kind, folder) as database_url:
        settings, engine, issue = make_store(folder, database_url, wire_fake.url, rate=1e6)
        payloads = prebuilt_payloads(settings, engine, issue)
        engine.dispose()
    wire = run_wire(wire_fake.url, payloads)
    wire_fake.stop()
    del payloads
    fake = Fake()
    with database(kind, folder) as database_url:
        settings, engine, issue = make_store(folder, database_url, fake.url, rate=1e6)
        ours = run_pipeline(settings, engine, issue)
        engine.dispose()
    check_once(fake, READERS)
    return READERS / wire, READERS / ours


def check_once(fake: Fake, readers: int) -> None:
    """Every reader got exactly one email; then the fake is stopped."""
    stats = fake.stats()
    fake.stop()
    assert stats["recipients"] == readers and stats["most_per_recipient"] == 1, stats


def in_processes(folder: Path, count: int) -> float:
    """emails/s of one issue sent by `count` sender processes (PostgreSQL), timed from the
    moment all of them are ready (imports done) until the last one ends."""
    fake = Fake()
    with database("postgres", folder) as database_url:
        keywords = bench_settings(folder, database_url, fake.url, rate=1e6)
        _, engine, issue = make_store(folder, database_url, fake.url, rate=1e6)
        engine.dispose()
        context = multiprocessing.get_context("spawn")
        ready, go = context.Barrier(count + 1), context.Event()
        children = [
            context.Process(target=sender, args=(keywords, issue.id, count, ready, go))
            for _ in range(count)
        ]
        for child in children:
            child.start()
        ready.wait()
        started = time.perf_counter()
        go.set()
        for child in children:
            child.join()
        elapsed = time.perf_counter() - started
        assert all(child.exitcode == 0 for child in children)
    check_once(fake, READERS)
    return READERS / elapsed


def sender(keywords: dict[str, Any], issue_id: int, count: int, ready: Any, go: Any) -> None:
    """One of `in_processes`' senders: what `digest issue send --processes` runs per child."""
    settings = get_settings(**keywords)
    engine = make_engine(settings.database_url)
    pacer = Pacer(settings.rate_limit / count)
    transport = make_transport(settings, observer=pacer.observe)
    ready.wait()
    go.wait()
    delivery.send_issue(
        engine, settings, issue_id, transport=transport, pacer=pacer, workers=WORKERS, now=NOW
    )
    transport.close()


def paced(folder: Path, configured: float) -> tuple[float, dict[str, Any]]:
    fake = Fake("--rate-limit", f"{RATE:g}")
    with database("sqlite", folder) as database_url:
        settings, engine, issue = make_store(
            folder, database_url, fake.url, rate=configured, readers=PACED_READERS
        )
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
    print(
        f"{READERS} recipients, {batches} batches of {BATCH}, {WORKERS} workers, "
        f"{ROUNDS} interleaved rounds, {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in ENGINES:
            unlimited_rounds(folder, kind)
        if SERIES:
            process_series(folder)
        if PACED:
            paced_runs(folder)


def unlimited_rounds(folder: Path, kind: str) -> None:
    wires, ours = [], []
    for _ in range(ROUNDS):  # wire and pipeline alternated: the machine's drift hits both
        wire_rate, our_rate = unlimited(folder, kind)
        wires.append(wire_rate)
        ours.append(our_rate)
    ratios = [o / w for o, w in zip(ours, wires, strict=True)]
    print(
        f"[{kind}] no rate limit: wire {spread(wires, '{:,.0f}')} emails/s · ours "
        f"{spread(ours, '{:,.0f}')} emails/s · ratio {spread(ratios, '{:.2f}')} (goal >= 0.8)"
    )


def process_series(folder: Path) -> None:
    rates: dict[int, list[float]] = {count: [] for count in SERIES}
    for _ in range(ROUNDS):
        for count in SERIES:
            rates[count].append(in_processes(folder, count))
    base = rates[SERIES[0]]
    for count in SERIES:
        gain = [r / b for r, b in zip(rates[count], base, strict=True)]
        print(
            f"[postgres] {count} sender process(es) x {WORKERS} workers: "
            f"{spread(rates[count], '{:,.0f}')} emails/s · x{spread(gain, '{:.2f}')} "
            f"over {SERIES[0]}"
        )


def paced_runs(folder: Path) -> None:
    floor = -(-PACED_READERS // BATCH) / RATE
    for label, configured in (("DIGEST_RATE_LIMIT=R", RATE), ("learned from headers", 1000.0)):
        elapsed, stats = paced(folder, configured)
        print(
            f"{PACED_READERS} recipients, fake at {RATE:g} req/s, {label}: {elapsed:.1f} s vs "
            f"floor {floor:.1f} s · ratio {elapsed / floor:.3f} (goal <= 1.1) · answers "
            f"{stats['statuses']}"
        )


if __name__ == "__main__":
    main()
