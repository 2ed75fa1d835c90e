"""`digest subscribers import` and `export` of a big list, on SQLite and PostgreSQL.

For each size in BENCH_SIZES (rows x rounds) a CSV of that many generated readers is written to
a temporary folder, then, per engine, the rounds run interleaved:

- ours: `digest subscribers import FILE --confirmed`, the CLI as operators run it, in its own
  process (streamed read, every row checked, chunked `INSERT ... ON CONFLICT DO NOTHING
  RETURNING` in one transaction, the report);
- baseline: the same validation (`csv_io.read_rows`, the same functions per row) of the same
  file in its own process, then one bulk `executemany` INSERT of every row into the same table
  in one transaction: no lookups, no conflicts handled, nothing reported.

Each run gets an empty store of its own (a new SQLite file, a new PostgreSQL schema). Wall time
of the process (interpreter start included, for both), rows/s, the ratio baseline/ours (1.0:
ours is as fast; the goal is >= 0.5), and the process's peak RSS. Then once per engine and size,
`digest subscribers export --out FILE` of the imported store: seconds and peak RSS.

Environment: BENCH_SIZES ("200000x3,1000000x1"), BENCH_ENGINES (sqlite,postgres),
BENCH_PG_URL (postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.db import make_engine, session_scope  # noqa: E402
from digest.models import ConsentRoute, Subscriber, SubscriberStatus, metadata  # noqa: E402
from digest.readers import csv_io  # noqa: E402
from digest.readers.bulk import ImportRow  # noqa: E402

SIZES = os.environ.get("BENCH_SIZES", "200000x3,1000000x1")
ENGINES = os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",")
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = "2026-11-16T08:00:00Z"
DIGEST = str(Path(sys.executable).with_name("digest"))


def write_csv(path: Path, rows: int) -> None:
    """Mailchimp-like: address, first and last name; every third reader without a name."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Email Address,First Name,Last Name\n")
        for n in range(rows):
            first, last = ("", "") if n % 3 == 0 else (f"Reader{n}", f"Number {n % 97}")
            handle.write(f"Reader.{n}@Example{n % 100}.com,{first},{last}\n")


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """An empty store with the current schema."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex[:8]}.db'}"
        _create(url)
        yield url
        Path(url.removeprefix("sqlite:///")).unlink()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        _create(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _create(url: str) -> None:
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def run(argv: list[str], url: str, folder: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of a process."""
    env = {**os.environ, "DIGEST_DATABASE_URL": url, "DIGEST_SECRET_FILE": str(folder / "key"),
           "DIGEST_OUTBOX_DIR": str(folder / "outbox"), "COLUMNS": "200"}  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    _out, err = process.communicate()
    if status != 0:
        raise SystemExit(f"{argv} failed: {err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def ours(url: str, source: Path, folder: Path) -> tuple[float, float]:
    argv = [DIGEST, "subscribers", "import", str(source), "--confirmed", "--now", NOW]
    return run(argv, url, folder)


def baseline(url: str, source: Path, folder: Path) -> tuple[float, float]:
    return run([sys.executable, __file__, "--baseline", str(source)], url, folder)


def bulk_insert_baseline(source: Path) -> None:
    """The same validation, then one bulk INSERT of every row (runs in its own process)."""
    import hashlib
    from datetime import UTC, datetime

    import digest.cli  # the CLI's start-up cost, so that both sides pay it

    now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    with source.open("rb") as handle:
        lines = csv_io._lines(str(source), handle, 1 << 40, "", None)
        rows = [row for row in csv_io.read_rows(str(source), lines) if isinstance(row, ImportRow)]
    digest = hashlib.sha256
    values = [
        {"email": row.email, "email_hash": digest(row.email.encode()).hexdigest(), "name": row.name,
         "status": SubscriberStatus.CONFIRMED, "created_at": now, "confirmed_at": now,
         "consent_route": ConsentRoute.IMPORT, "consent_at": now, "soft_bounces": 0,
         "pending_click_consent": False}
        for row in rows
    ]  # fmt: skip
    engine = make_engine(os.environ["DIGEST_DATABASE_URL"])
    with session_scope(engine) as session:
        session.execute(Subscriber.__table__.insert(), values)  # type: ignore[attr-defined]


def export(url: str, folder: Path) -> tuple[float, float]:
    out = folder / "export.csv"
    seconds, rss = run([DIGEST, "subscribers", "export", "--out", str(out)], url, folder)
    out.unlink()
    return seconds, rss


def count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        number = int(connection.execute(text("SELECT count(*) FROM subscriber")).scalar_one())
    engine.dispose()
    return number


def spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.1f} {unit} ({min(values):.1f}-{max(values):.1f})"


def bench(kind: str, rows: int, rounds: int, source: Path, folder: Path) -> None:
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    rss: dict[str, list[float]] = {"ours": [], "baseline": []}
    for number in range(rounds):
        for name, how in (("ours", ours), ("baseline", baseline)):
            with database(kind, folder) as url:
                seconds, peak = how(url, source, folder)
                assert count(url) == rows, f"{name} wrote {count(url)} rows"
                if name == "ours" and number == rounds - 1:
                    exported = export(url, folder)
            times[name].append(seconds)
            rss[name].append(peak)
            print(f"  [{kind} {rows:,}] round {number + 1} {name}: {seconds:.1f} s, {peak:.0f} MiB")
    ratios = [b / o for o, b in zip(times["ours"], times["baseline"], strict=True)]
    print(
        f"[{kind}] {rows:,} rows x {rounds}: ours {spread(times['ours'], 's')} = "
        f"{rows / statistics.median(times['ours']):,.0f} rows/s, peak RSS "
        f"{spread(rss['ours'], 'MiB')} · baseline {spread(times['baseline'], 's')} = "
        f"{rows / statistics.median(times['baseline']):,.0f} rows/s, peak RSS "
        f"{spread(rss['baseline'], 'MiB')} · ratio baseline/ours {spread(ratios, 'x')}"
    )
    print(f"[{kind}] export {rows:,} rows: {exported[0]:.1f} s, peak RSS {exported[1]:.0f} MiB")


def main() -> None:
    print(f"sizes {SIZES}, engines {', '.join(ENGINES)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        for size in SIZES.split(","):
            rows, rounds = (int(part) for part in size.split("x"))
            source = folder / f"list-{rows}.csv"
            write_csv(source, rows)
            print(f"{rows:,} rows: {source.stat().st_size / 1048576:.1f} MiB of CSV", flush=True)
            for kind in ENGINES:
                bench(kind, rows, rounds, source, folder)
                sys.stdout.flush()
            source.unlink()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--baseline"]:
        bulk_insert_baseline(Path(sys.argv[2]))
    else:
        main()
