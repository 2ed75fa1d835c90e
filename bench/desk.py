"""The editor's desk under a year of data: every desk page and /api/stats, on SQLite and
PostgreSQL, with 100,000 readers and 52 sent issues.

Seeds the store set-based (INSERT ... SELECT over a number series, so a run seeds millions of
ledger rows in seconds), starts the real `digest serve`, logs in as an editor and requests each
page N times one after another, then prints p50 and p95 per page. The goal: p95 <= 200 ms.

The year: the list grows from 50,000 to 100,000 readers over 52 weekly issues, each sent to
everyone confirmed by then (~3.9 million copies); 95% of copies are reported delivered, 0.5%
bounced, 0.05% complained; 2% of readers unsubscribed at some point.

    .venv/bin/python bench/desk.py [--requests 40] [--engines sqlite,postgres]
PostgreSQL comes from DIGEST_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432/test), in a
schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
DIGEST = Path(sys.executable).with_name("digest")
READERS = 100_000
FIRST_LIST = 50_000
ISSUES = 52
PASSWORD = "bench editor password"
TOKEN = "bench-api-token"
PG_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)  # a Monday; issue n goes out n weeks later
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def numbers(engine: Engine, count: int) -> str:
    """A SELECT of n = 1..count, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return f"SELECT generate_series(1, {count}) AS n"
    return (
        f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) "
        "SELECT n FROM s"
    )


def at(engine: Engine, base: str, seconds: str) -> str:
    """`base` + `seconds` as a timestamp expression (stored times are UTC)."""
    if engine.dialect.name == "postgresql":
        return f"({base} + ({seconds}) * interval '1 second')"
    return f"datetime({base}, ({seconds}) || ' seconds')"


def seed(engine: Engine) -> None:
    pg = engine.dialect.name == "postgresql"
    start = "TIMESTAMPTZ '2025-12-01 08:00:00+00'" if pg else "'2025-12-01 08:00:00'"
    with engine.begin() as db:
        db.execute(text(readers_sql(engine, start)))
        db.execute(text(issues_sql(engine, start)))
        db.execute(text(batches_sql(engine, start)))
        db.execute(text(deliveries_sql()))
        db.execute(text(marks_sql()))
    with engine.begin() as db:
        if pg:
            for table in ("subscriber", "issue", "batch", "delivery"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                db.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))
        db.execute(text("ANALYZE"))


def readers_sql(engine: Engine, start: str) -> str:
    """Readers 1..100k, joined evenly over the year before the first issue and during it;
    every 50th unsubscribed some day of the year, every 997th bounced."""
    year = 52 * 7 * 86400
    joined = at(engine, start, f"(n - {FIRST_LIST}) * {year // (READERS - FIRST_LIST)}")
    left = at(engine, start, "(n % 364) * 86400 + 3600")
    status = (
        "CASE WHEN n % 50 = 0 THEN 'unsubscribed' WHEN n % 997 = 0 THEN 'bounced'"
        " ELSE 'confirmed' END"
    )
    return (
        "INSERT INTO subscriber (id, email, email_hash, name, status, created_at,"
        " confirmed_at, unsubscribed_at, soft_bounces, consent_route, consent_at) "
        f"SELECT n, 'reader' || n || '@example.com', 'h' || n, 'Reader ' || n, {status},"
        f" {joined}, {joined}, CASE WHEN n % 50 = 0 THEN {left} END, 0, 'form', {joined}"
        f" FROM ({numbers(engine, READERS)}) s"
    )


def issues_sql(engine: Engine, start: str) -> str:
    week = at(engine, start, "(n - 1) * 604800")
    done = at(engine, start, "(n - 1) * 604800 + 3600")
    return (
        "INSERT INTO issue (id, number, period, status, subject, preheader, html, text,"
        " created_at, frozen_at, sent_at) "
        f"SELECT n, n, 'W' || n, 'sent', 'Issue ' || n, 'p', '<p>x</p>', 'x',"
        f" {week}, {week}, {done} FROM ({numbers(engine, ISSUES)}) s"
    )


def batches_sql(engine: Engine, start: str) -> str:
    return (
        "INSERT INTO batch (id, issue_id, number, idempotency_key, status, attempts,"
        " next_attempt_at, created_at) "
        f"SELECT n, n, 0, 'k' || n, 'done', 0, {start}, {start}"
        f" FROM ({numbers(engine, ISSUES)}) s"
    )


def deliveries_sql() -> str:
    """Issue i goes to every reader who had joined by then; 1 in 400 copies failed."""
    reach = f"{FIRST_LIST} + (i.number - 1) * {(READERS - FIRST_LIST) // (ISSUES - 1)}"
    return (
        "INSERT INTO delivery (issue_id, subscriber_id, batch_id, status, attempts,"
        " provider_id, created_at, finished_at) "
        "SELECT i.id, s.id, i.id, CASE WHEN s.id % 400 = 0 THEN 'failed' ELSE 'sent' END,"
        " 1, 're_' || i.id || '_' || s.id, i.frozen_at, i.frozen_at "
        f"FROM issue i JOIN subscriber s ON s.id <= {reach}"
    )


def marks_sql() -> str:
    """95% of sent copies reported: 0.5% bounced, 0.05% complained, the rest delivered."""
    event = (
        "CASE WHEN d.subscriber_id % 200 = 7 THEN 'bounced'"
        " WHEN d.subscriber_id % 2000 = 11 THEN 'complained' ELSE 'delivered' END"
    )
    return (
        "INSERT INTO delivery_mark (delivery_id, event, at) "
        f"SELECT d.id, {event}, d.finished_at FROM delivery d"
        " WHERE d.status = 'sent' AND d.subscriber_id % 20 <> 3"
    )


def count_tallies(url: str) -> None:
    """What the web process does in the background after a deploy: count every sent issue
    (stats.refresh_tallies), so the pages read kept figures."""
    from digest import stats
    from digest.db import make_engine, session_scope

    engine = make_engine(url)
    started = time.perf_counter()
    with session_scope(engine) as session:
        counted = stats.refresh_tallies(session, now=datetime.now(UTC), limit=ISSUES)
    engine.dispose()
    print(f"  counted {counted} issues' tallies in {time.perf_counter() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(folder: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        {
            "DIGEST_DATABASE_URL": url,
            "DIGEST_SECRET_FILE": str(folder / "secret"),
            "DIGEST_OUTBOX_DIR": str(folder / "outbox"),
            "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
            "DIGEST_EDITOR_PASSWORD": PASSWORD,
            "DIGEST_API_TOKEN": TOKEN,
        }
    )
    server = subprocess.Popen(
        [str(DIGEST), "serve", "--port", str(port)],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("digest serve did not start")


PAGES = [
    ("overview /editor", "/editor"),
    ("issue /editor/issues/52", "/editor/issues/52"),
    ("issue /editor/issues/1", "/editor/issues/1"),
    ("readers, first page", "/editor/readers"),
    ("readers, page at id 50,000", "/editor/readers?after=50000"),
    ("readers, status filter", "/editor/readers?status=unsubscribed&after=60000"),
    ("readers, search address", "/editor/readers?q=reader99999"),
    ("readers, search (no match)", "/editor/readers?q=nobody-at-all"),
    ("reader /editor/readers/77777", "/editor/readers/77777"),
    ("issues.csv", "/editor/issues.csv"),
    ("growth.csv", "/editor/growth.csv"),
    ("/api/stats", "/api/stats"),
]


def measure(base: str, requests: int) -> list[tuple[str, float, float]]:
    results = []
    with httpx.Client(base_url=base, timeout=60) as client:
        token = CSRF.search(client.get("/editor/login").text)
        assert token, "no login form"
        login = client.post("/editor/login", data={"csrf": token.group(1), "password": PASSWORD})
        assert login.status_code == 303, login.text[:300]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for label, path in PAGES:
            client.get(path, headers=headers)  # warm: the first request pays for imports
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            results.append((label, statistics.median(times), p95))
    return results


def run_engine(name: str, requests: int) -> list[tuple[str, float, float]]:
    from digest import migrate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        schema = None
        if name == "sqlite":
            url = f"sqlite:///{folder / 'subscribers.db'}"
        else:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as db:
                db.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        try:
            migrate.upgrade(url)
            engine = create_engine(url)
            started = time.perf_counter()
            seed(engine)
            with engine.connect() as db:
                copies = db.execute(text("SELECT count(*) FROM delivery")).scalar()
            engine.dispose()
            count_tallies(url)
            print(f"{name}: seeded {READERS} readers, {ISSUES} issues, {copies} copies"
                  f" in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            port = free_port()
            server = serve(folder, url, port)
            try:
                return measure(f"http://127.0.0.1:{port}", requests)
            finally:
                server.terminate()
                server.wait(timeout=20)
        finally:
            if schema is not None:
                with admin.connect() as db:
                    db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    table: dict[str, dict[str, tuple[float, float]]] = {}
    engines = args.engines.split(",")
    for name in engines:
        for label, p50, p95 in run_engine(name, args.requests):
            table.setdefault(label, {})[name] = (p50, p95)
    head = "".join(f"{e + ' p50':>14}{e + ' p95':>14}" for e in engines)
    print(f"{'page':34}{head}")
    for label, by_engine in table.items():
        cells = "".join(f"{by_engine[e][0]:>14.1f}{by_engine[e][1]:>14.1f}" for e in engines)
        worst = max(by_engine[e][1] for e in engines)
        print(f"{label:34}{cells}{'' if worst <= 200 else '   over 200 ms'}")


if __name__ == "__main__":
    main()
