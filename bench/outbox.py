"""The outbox transport against the disk: how close does writing an issue come to what the disk
allows?

The real sample issue (the two sample comparisons, rendered and frozen in a fresh SQLite store)
is composed for BENCH_READERS recipients (names plain, accented, CJK, none) and sent through
`OutboxTransport.send_batch` in batches of 100, into an empty folder. The disk limit, measured
in the same run: the same number of files with the same bytes (built beforehand), written the
way the outbox writes them (temporary file, 0600, fsync, rename) with the same code
(`OutboxTransport.write_file`). Rounds alternate disk and outbox; median and range of
BENCH_ROUNDS. Goal (issue 14): outbox >= 0.5x the disk limit.

Also printed: building one message in memory, our build (the issue's frozen text encoded once)
against the plain build (the email package encodes every copy; tests/support/stdlib_mime.py).

Environment: BENCH_READERS (1000), BENCH_ROUNDS (3), BENCH_DIR (a temporary folder on the
disk the outbox would use; default: the system's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import catalog, delivery  # noqa: E402
from digest.config import get_settings  # noqa: E402
from digest.db import make_engine, session_scope  # noqa: E402
from digest.delivery.claims import Recipient  # noqa: E402
from digest.delivery.compose import Composer  # noqa: E402
from digest.demo import sample_documents  # noqa: E402
from digest.models import metadata  # noqa: E402
from digest.readers.subscriptions import email_hash  # noqa: E402
from digest.transports.base import OutgoingEmail  # noqa: E402
from digest.transports.mime import build_message  # noqa: E402
from digest.transports.outbox import OutboxTransport  # noqa: E402
from tests.support.stdlib_mime import stdlib_message  # noqa: E402

READERS = int(os.environ.get("BENCH_READERS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH = 100
KEY = "bench-outbox-key"
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
NAMES = ["Reader {n}", "Zoë Ångström {n}", "李小龙 {n}", None]


def composed_emails(folder: Path) -> list[OutgoingEmail]:
    """Every recipient's copy of the frozen sample issue, as the sender hands them over."""
    settings = get_settings(
        _env_file=None,
        database_url=f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}",
        secret_key="bench-secret-key-0123456789-0123456789",
        base_url="https://digest.example",
        secret_file=folder / "secret",
    )
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=NOW - timedelta(days=1))
        issue = delivery.open_period_issue(session, settings, now=NOW)
    composer = Composer(settings, issue, now=NOW)
    engine.dispose()
    return [composer.for_recipient(recipient(n)) for n in range(READERS)]


def recipient(n: int) -> Recipient:
    address = f"reader{n}@example.com"
    name = NAMES[n % len(NAMES)]
    return Recipient(n, n + 1, address, email_hash(address), name=name and name.format(n=n))


def send_outbox(emails: list[OutgoingEmail], folder: Path) -> float:
    transport = OutboxTransport(folder)
    started = time.perf_counter()
    for at in range(0, len(emails), BATCH):
        results = transport.send_batch(emails[at : at + BATCH], idempotency_key=KEY)
        assert all(result.ok for result in results)
    return time.perf_counter() - started


def write_disk(files: list[tuple[str, bytes]], folder: Path) -> float:
    """The outbox's own write (OutboxTransport.write_file, then rename), bytes built before."""
    writer = OutboxTransport(folder)
    started = time.perf_counter()
    folder.mkdir(mode=0o700)
    for name, data in files:
        temporary = folder / f".{name}.tmp"
        writer.write_file(temporary, data)
        os.replace(temporary, folder / name)
    return time.perf_counter() - started


def per_message_us(build: Callable[[OutgoingEmail], bytes], emails: list[OutgoingEmail]) -> float:
    started = time.perf_counter()
    for email in emails:
        build(email)
    return (time.perf_counter() - started) / len(emails) * 1e6


def spread(values: list[float], fmt: str) -> str:
    """Median (min-max)."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(mid)} ({fmt.format(low)}-{fmt.format(high)})"


def main() -> None:
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        folder = Path(tmp)
        emails = composed_emails(folder)
        outbox = OutboxTransport(folder / "names")
        files = [
            (outbox.path_for(email).name, build_message(email, idempotency_key=KEY))
            for email in emails
        ]
        size = statistics.mean(len(data) for _, data in files) / 1024
        print(f"{READERS} recipients, {size:.1f} KB per message, batches of {BATCH}, fsync'd")
        disk, ours = [], []
        for round_number in range(ROUNDS):  # alternated: the machine's drift hits both
            disk.append(READERS / write_disk(files, folder / f"disk{round_number}"))
            ours.append(READERS / send_outbox(emails, folder / f"outbox{round_number}"))
            shutil.rmtree(folder / f"disk{round_number}")
            shutil.rmtree(folder / f"outbox{round_number}")
        ratios = [o / d for o, d in zip(ours, disk, strict=True)]
        print(
            f"{ROUNDS} interleaved rounds: disk limit {spread(disk, '{:,.0f}')} files/s · "
            f"outbox {spread(ours, '{:,.0f}')} emails/s · ratio {spread(ratios, '{:.2f}')} "
            f"(goal >= 0.5)"
        )
        sample = emails[: min(200, READERS)]
        builds: dict[str, Callable[[OutgoingEmail], bytes]] = {
            "ours": lambda e: build_message(e, idempotency_key=KEY),
            "plain email package": lambda e: stdlib_message(
                e, idempotency_key=KEY, date=formatdate(usegmt=True)
            ),
        }
        timings: dict[str, list[float]] = {label: [] for label in builds}
        for _ in range(ROUNDS):
            for label, build in builds.items():
                timings[label].append(per_message_us(build, sample))
        print(
            "one message built in memory: "
            + " · ".join(f"{label} {spread(t, '{:,.0f}')} us" for label, t in timings.items())
        )


if __name__ == "__main__":
    main()
