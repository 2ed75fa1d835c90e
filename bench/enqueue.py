"""The enqueue, the claim and the start of a send at a million readers, on SQLite and PostgreSQL.

Per engine, one store of BENCH_READERS confirmed readers (a fifth of them with chosen topics),
then BENCH_ROUNDS interleaved rounds of:

1. Enqueue: our chunked, set-based enqueue (DIGEST_ENQUEUE_CHUNK readers per transaction)
   against the database's own limit measured in the same run: one bare `INSERT INTO delivery
   SELECT ...` of the same readers into one batch (same table, same indexes, no chunks, no
   audience). Also the longest chunk (on SQLite, how long the write lock is held at a time).
2. Claims: `claim_batch` (leases a batch, rechecks its readers) against the query it replaced
   (OR of the two due states, ORDER BY number, over the old (issue_id, status) index).

Then once per engine: `digest issue send` as a process against the fake Resend, from an
enqueue not yet begun: seconds until the first email reaches the fake, and the process's peak
RSS (VmHWM) over the first BENCH_SEND_SECONDS (the enqueue runs in that window; later the send
only repeats the same batch loop), after which it is stopped. Meanwhile a `digest serve` on the
same database is asked `/healthz` every 20 ms: its p99 says whether the enqueue's chunks (on
SQLite, the write lock) stall the site.

Environment: BENCH_READERS (1000000), BENCH_ROUNDS (3), BENCH_ENGINES (sqlite,postgres),
BENCH_SEND_SECONDS (30), BENCH_SEND_NICE (unset: the priority `digest scheduler` gives its
sends on that engine by default, nice 0 on SQLite and 10 on PostgreSQL), BENCH_PG_URL (postgresql+psycopg://postgres@127.0.0.1:5432/test),
BENCH_ONLY (unset; `first_email` skips the rounds and measures only the start of a send).
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest import catalog, delivery  # noqa: E402
from digest.config import Settings, get_settings  # noqa: E402
from digest.db import UTCDateTime, make_engine, session_scope  # noqa: E402
from digest.delivery import claims, enqueue  # noqa: E402
from digest.demo import sample_documents  # noqa: E402
from digest.models import Issue, metadata  # noqa: E402

READERS = int(os.environ.get("BENCH_READERS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ENGINES = os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",")
SEND_SECONDS = float(os.environ.get("BENCH_SEND_SECONDS", "30"))
SEND_NICE = os.environ.get("BENCH_SEND_NICE", "")
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ONLY = os.environ.get("BENCH_ONLY", "")
CLAIMS = 100
API_KEY = "re_bench_key"
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
NEW_CLAIM = (
    "SELECT id FROM batch WHERE issue_id = :issue AND status = 'pending' AND "
    "next_attempt_at <= :now ORDER BY number LIMIT 1"
)
OLD_CLAIM = (
    "SELECT id FROM batch WHERE issue_id = :issue AND ((status = 'pending' AND "
    "next_attempt_at <= :now) OR (status = 'leased' AND lease_expires_at <= :now)) "
    "ORDER BY number LIMIT 1"
)


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
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


def bench_settings(url: str, folder: Path) -> Settings:
    return get_settings(
        _env_file=None,
        database_url=url,
        secret_key="bench-secret-key-0123456789-0123456789",
        secret_file=folder / "secret",
        base_url="https://digest.example",
        batch_size=100,
    )


def add_readers(engine: Engine, count: int) -> None:
    """`count` confirmed readers written by the database itself; every fifth chose 1-2 topics."""
    stamp = "'2026-11-01 08:00:00.000000'"
    if engine.dialect.name == "postgresql":
        numbers = f"SELECT n FROM generate_series(1, {count}) AS n"
        stamp = f"TIMESTAMPTZ {stamp[:-1]}+00'"
        hashed = "md5(n::text) || md5(n::text)"
    else:
        numbers = f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s"  # noqa: E501
        hashed = "printf('%064d', n)"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscriber (email, email_hash, name, status, created_at, "
                "confirmed_at, soft_bounces, consent_route, consent_at) "
                f"SELECT 'reader' || n || '@example.com', {hashed}, "
                f"CASE WHEN n % 2 = 0 THEN 'Reader ' || n END, 'confirmed', {stamp}, {stamp}, "
                f"0, 'import', {stamp} FROM ({numbers}) AS numbers"
            )
        )
        topics = [row[0] for row in connection.execute(text("SELECT id FROM topic ORDER BY id"))]
        for offset, topic in enumerate(topics[:4]):
            connection.execute(
                text(
                    "INSERT INTO subscriber_topic (subscriber_id, topic_id) SELECT id, :topic "
                    "FROM subscriber WHERE id % 5 = 0 AND (id / 5) % 4 IN (:a, :b)"
                ),
                {"topic": topic, "a": offset, "b": (offset + 1) % 4},
            )


def make_store(url: str, folder: Path) -> tuple[Settings, Engine, int]:
    settings = bench_settings(url, folder)
    engine = make_engine(url)
    metadata.create_all(engine)
    with session_scope(engine) as session:
        catalog.import_comparisons(session, sample_documents(), now=NOW - timedelta(days=1))
    add_readers(engine, READERS)
    with session_scope(engine) as session:
        issue = delivery.open_period_issue(session, settings, now=NOW)
    assert issue.id is not None
    return settings, engine, issue.id


def reset(engine: Engine, issue_id: int) -> None:
    """Back to a frozen issue whose enqueue has not begun."""
    with engine.begin() as connection:
        empty(connection, "enqueue_progress", "delivery", "batch")
    with session_scope(engine) as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        enqueue.start_enqueue(session, issue, batch_size=100)
    vacuum(engine)


def empty(connection: Connection, *tables: str) -> None:
    """Every row of `tables` gone (on PostgreSQL by TRUNCATE: it gives the space back, so
    sizes and times stay comparable between rounds)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    else:
        for table in tables:
            connection.execute(text(f"DELETE FROM {table}"))


def vacuum(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def ours(settings: Settings, engine: Engine, issue_id: int) -> tuple[float, float]:
    """Seconds for the whole enqueue, and the longest chunk."""
    chunks: list[float] = []
    last = time.perf_counter()

    def tick(_written: int) -> None:
        nonlocal last
        now = time.perf_counter()
        chunks.append(now - last)
        last = now

    started = last
    enqueue.enqueue_in_chunks(
        engine, settings, issue_id, clock=lambda: NOW, patience=5.0, on_chunk=tick
    )
    return time.perf_counter() - started, max(chunks)


def used_bytes(engine: Engine) -> int:
    """Bytes the ledger tables take (with their indexes)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            sql = (
                "SELECT pg_total_relation_size('delivery') + pg_total_relation_size('batch') "
                "+ pg_total_relation_size('enqueue_progress')"
            )
            return int(connection.execute(text(sql)).scalar_one())
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()
        free = connection.execute(text("PRAGMA freelist_count")).scalar_one()
        size = connection.execute(text("PRAGMA page_size")).scalar_one()
        return int((pages - free) * size)


def bare_insert(engine: Engine, issue_id: int) -> float:
    """The same readers' rows written by one INSERT ... SELECT into one batch."""
    with session_scope(engine) as session:
        batch = enqueue.new_batch(issue_id, 0, now=NOW)
        session.add(batch)
        session.flush()
        batch_id = batch.id
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO delivery (issue_id, subscriber_id, batch_id, variant_id, name, "
                "status, attempts, created_at) SELECT :issue, id, :batch, NULL, name, 'queued', "
                "0, created_at FROM subscriber WHERE status = 'confirmed' AND email IS NOT NULL"
            ),
            {"issue": issue_id, "batch": batch_id},
        )
    return time.perf_counter() - started


def claim_times(engine: Engine, issue_id: int) -> list[float]:
    times = []
    for n in range(CLAIMS):
        started = time.perf_counter()
        with session_scope(engine) as session:
            claim = claims.claim_batch(
                session, issue_id=issue_id, owner=f"b{n}", now=NOW, lease=timedelta(hours=1)
            )
        times.append(time.perf_counter() - started)
        assert claim is not None and claim.recipients
    return times


def query_times(engine: Engine, issue_id: int, sql: str) -> list[float]:
    """A claim's finding query alone, read only, CLAIMS times."""
    times = []
    query = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
    with session_scope(engine, read_only=True) as session:  # the query, not the connecting
        connection = session.connection()
        for _ in range(CLAIMS):
            started = time.perf_counter()
            found = connection.execute(query, {"issue": issue_id, "now": NOW})
            assert found.first() is not None
            times.append(time.perf_counter() - started)
    return times


def old_claim_times(engine: Engine, issue_id: int) -> list[float]:
    """The replaced claim query over the replaced index."""
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_batch_issue_status_number"))
        connection.execute(text("CREATE INDEX ix_batch_issue_status ON batch (issue_id, status)"))
    vacuum(engine)
    try:
        times = query_times(engine, issue_id, OLD_CLAIM)
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_batch_issue_status"))
            connection.execute(
                text(
                    "CREATE INDEX ix_batch_issue_status_number ON batch (issue_id, status, number)"
                )
            )
    vacuum(engine)
    return times


def send_nice(url: str, folder: Path) -> int:
    """The send's nice: BENCH_SEND_NICE, or what `digest scheduler` runs at on this engine."""
    return int(SEND_NICE) if SEND_NICE.strip() else bench_settings(url, folder).background_priority


def first_email_and_rss(
    url: str, folder: Path, nice: int
) -> tuple[float, float, float, int, float]:
    """`digest issue send` from a fresh enqueue: (seconds to the first email at the fake, of
    which seconds until the command said "Sending issue" (CLI start, checks, preparing), peak
    RSS MiB over SEND_SECONDS, emails accepted by then, p99 ms of /healthz meanwhile)."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.support.resend_server", "--api-key", API_KEY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    fake_url = fake.stdout.readline().strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        DIGEST_DATABASE_URL=url,
        DIGEST_SECRET_KEY="bench-secret-key-0123456789-0123456789",
        DIGEST_SECRET_FILE=str(folder / "secret"),
        DIGEST_BASE_URL="https://digest.example",
        DIGEST_TRANSPORT="resend",
        RESEND_API_KEY=API_KEY,
        RESEND_API_URL=fake_url,
        DIGEST_RATE_LIMIT="100000",
        DIGEST_SEND_WORKERS="4",
    )
    digest = str(Path(sys.executable).parent / "digest")
    site, site_url = start_site(digest, env, folder)
    probes: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=probe_healthz, args=(site_url, stop, probes), daemon=True)
    prober.start()
    started = time.perf_counter()
    send = subprocess.Popen(
        ["nice", "-n", str(nice), digest, "issue", "send"],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        text=True,
    )
    began: list[float] = []
    threading.Thread(target=note_start, args=(send, started, began), daemon=True).start()
    first, peak, accepted = float("nan"), 0.0, 0
    try:
        while time.perf_counter() - started < SEND_SECONDS and send.poll() is None:
            peak = max(peak, high_water_mib(send.pid))
            if first != first:  # not yet
                stats = requests.get(f"{fake_url}/_stats", timeout=10).json()
                if stats["accepted"]:
                    first = time.perf_counter() - started
            time.sleep(0.1)
        peak = max(peak, high_water_mib(send.pid))
        accepted = requests.get(f"{fake_url}/_stats", timeout=60).json()["accepted"]
    finally:
        stop.set()
        prober.join(timeout=60)
        send.send_signal(signal.SIGINT)
        try:
            send.wait(timeout=60)
        except subprocess.TimeoutExpired:
            send.kill()
            send.wait()
        for process in (site, fake):
            process.terminate()
            process.wait()
    healthz = p99(probes) * 1000 if probes else float("nan")
    return first, began[0] if began else float("nan"), peak, accepted, healthz


def start_site(digest: str, env: dict[str, str], folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`digest serve` on the bench's database, once it answers; (process, base URL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    site = subprocess.Popen(
        [digest, "serve", "--port", str(port)],
        env={**env, "DIGEST_WEB_SENDS_MAIL": "off"},
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and site.poll() is None:
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return site, url
        except requests.RequestException:
            pass
        time.sleep(0.1)
    site.kill()
    raise SystemExit("digest serve did not start")


def probe_healthz(url: str, stop: threading.Event, into: list[float]) -> None:
    """Ask /healthz every 20 ms until `stop`, keeping each answer's time."""
    with requests.Session() as http:
        while not stop.is_set():
            asked = time.perf_counter()
            http.get(f"{url}/healthz", timeout=60)
            into.append(time.perf_counter() - asked)
            stop.wait(0.02)


def note_start(send: subprocess.Popen[str], started: float, began: list[float]) -> None:
    """When the send printed "Sending issue" (the CLI is up, the issue prepared); then drain."""
    assert send.stdout is not None
    for line in send.stdout:
        if not began and line.startswith("Sending issue"):
            began.append(time.perf_counter() - started)


def cli_startup(folder: Path) -> float:
    """Seconds for `digest --help`: the interpreter and imports, before any work."""
    started = time.perf_counter()
    digest = str(Path(sys.executable).parent / "digest")
    subprocess.run([digest, "--help"], cwd=folder, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def high_water_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def spread(values: list[float], scale: float = 1.0, unit: str = "s") -> str:
    median = statistics.median(values) * scale
    return f"{median:.2f} {unit} ({min(values) * scale:.2f}-{max(values) * scale:.2f})"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_engine(kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        folder = Path(tmp)
        started = time.perf_counter()
        settings, engine, issue_id = make_store(url, folder)
        print(f"[{kind}] {READERS:,} readers stored in {time.perf_counter() - started:.0f} s")
        if ONLY != "first_email":
            run_rounds(kind, settings, engine, issue_id)
        reset(engine, issue_id)
        engine.dispose()
        nice = send_nice(url, folder)
        first, began, peak, accepted, healthz = first_email_and_rss(url, folder, nice)
        startup = cli_startup(folder)
        print(
            f"[{kind}] digest issue send (nice {nice}) at {READERS:,}: first email after "
            f"{first:.1f} s from launch, {first - began:.1f} s after it said 'Sending issue' "
            f"({began:.1f} s from launch); starting the CLI (`digest --help`, measured right "
            f"after) took {startup:.1f} s (goal <= 10 s) · peak RSS {peak:.0f} MiB over "
            f"{SEND_SECONDS:g} s (goal < 250) · {accepted:,} emails by then · /healthz of "
            f"`digest serve` meanwhile: p99 {healthz:.0f} ms (goal < 50)"
        )


def run_rounds(kind: str, settings: Settings, engine: Engine, issue_id: int) -> None:
    """ROUNDS interleaved rounds of the enqueue (ours against one bare INSERT) and the claims."""
    totals: dict[str, list[float]] = {"ours": [], "bare": [], "chunk": []}
    claim: dict[str, list[float]] = {
        name: [] for name in ("lease", "lease_p99", "new", "new_p99", "old", "old_p99")
    }
    per_row: list[float] = []
    for _ in range(ROUNDS):
        reset(engine, issue_id)
        before = used_bytes(engine)
        whole, longest = ours(settings, engine, issue_id)
        vacuum(engine)
        per_row.append((used_bytes(engine) - before) / READERS)
        totals["ours"].append(whole)
        totals["chunk"].append(longest)
        vacuum(engine)
        measure(claim, "new", lambda: query_times(engine, issue_id, NEW_CLAIM))
        measure(claim, "old", lambda: old_claim_times(engine, issue_id))
        measure(claim, "lease", lambda: claim_times(engine, issue_id))
        reset(engine, issue_id)
        totals["bare"].append(bare_insert(engine, issue_id))
    ratios = [b / o for b, o in zip(totals["bare"], totals["ours"], strict=True)]
    print(
        f"[{kind}] enqueue {READERS:,}: ours {spread(totals['ours'])} · one bare INSERT "
        f"{spread(totals['bare'])} · ratio {spread(ratios, unit='x')} · longest chunk "
        f"{spread(totals['chunk'], 1000, 'ms')}"
    )
    print(f"[{kind}] ledger storage: {spread(per_row, unit='bytes')} per delivery row")
    ratio = [o / n for o, n in zip(claim["old"], claim["new"], strict=True)]
    print(
        f"[{kind}] claim query at {READERS:,}: ours median {spread(claim['new'], 1000, 'ms')}"
        f" p99 {spread(claim['new_p99'], 1000, 'ms')} · replaced query median "
        f"{spread(claim['old'], 1000, 'ms')} p99 {spread(claim['old_p99'], 1000, 'ms')} · "
        f"old/new {spread(ratio, unit='x')} (goal < 2 ms) · whole claim_batch transaction "
        f"(lease, recheck 100 readers, commit) median {spread(claim['lease'], 1000, 'ms')}"
    )


def measure(into: dict[str, list[float]], name: str, run: Callable[[], list[float]]) -> None:
    times = run()
    into[name].append(statistics.median(times))
    into[f"{name}_p99"].append(p99(times))


def main() -> None:
    print(f"{READERS:,} readers, {ROUNDS} interleaved rounds, engines {', '.join(ENGINES)}")
    for kind in ENGINES:
        run_engine(kind)


if __name__ == "__main__":
    main()
