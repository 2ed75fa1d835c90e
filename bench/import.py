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
ours is as fast; the goal is >= 0.5), and the process's peak RSS.

The export, every round, on the store ours just imported, the two sides one after the other:

- ours: `digest subscribers export --out FILE` (keyset pages of plain rows, every cell defused);
- baseline: a process that imports the same CLI modules, then one bare `SELECT` of the same
  columns through the driver's cursor and `csv.writer` of every row as the driver returns it
  (no type conversion, no defusing). On PostgreSQL that cursor holds the whole result in memory.

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

    now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    with source.open("rb") as handle:
        lines = csv_io._lines(str(source), handle, 1 << 40, "", None)
        rows = [row for row in csv_io.read_rows(str(source), lines) if isinstance(row, ImportRow)]
    sha256 = hashlib.sha256
    values = [
        {"email": row.email, "email_hash": sha256(row.email.encode()).hexdigest(), "name": row.name,
         "status": SubscriberStatus.CONFIRMED, "created_at": now, "confirmed_at": now,
         "consent_route": ConsentRoute.IMPORT, "consent_at": now, "soft_bounces": 0,
         "pending_click_consent": False}
        for row in rows
    ]  # fmt: skip
    engine = make_engine(os.environ["DIGEST_DATABASE_URL"])
    with session_scope(engine) as session:
        session.execute(Subscriber.__table__.insert(), values)  # type: ignore[attr-defined]


def export(url: str, folder: Path, rows: int) -> tuple[float, float]:
    return _exported([DIGEST, "subscribers", "export", "--out"], url, folder, rows)


def export_baseline(url: str, folder: Path, rows: int) -> tuple[float, float]:
    return _exported([sys.executable, __file__, "--export-baseline"], url, folder, rows)


def _exported(argv: list[str], url: str, folder: Path, rows: int) -> tuple[float, float]:
    out = folder / "export.csv"
    seconds, rss = run([*argv, str(out)], url, folder)
    with out.open("rb") as handle:
        lines = sum(1 for _line in handle)
    out.unlink()
    assert lines == rows + 1, f"{argv[-1]} wrote {lines} lines for {rows} rows"
    return seconds, rss


def bare_export_baseline(out: Path) -> None:
    """One SELECT of the exported columns, csv.writer of every row (its own process)."""
    import csv

    import digest.cli  # noqa: F401  the CLI's start-up cost, so that both sides pay it
    from digest.readers.csv_export import EXPORT_SOURCE

    engine = make_engine(os.environ["DIGEST_DATABASE_URL"])
    names = ", ".join(column.name for column in EXPORT_SOURCE)
    connection = engine.raw_connection()
    cursor = connection.cursor()
    cursor.execute(f"SELECT {names} FROM subscriber ORDER BY id")
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([column.name for column in EXPORT_SOURCE])
        while rows := cursor.fetchmany(1000):
            writer.writerows(rows)
    connection.close()


def count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        number = int(connection.execute(text("SELECT count(*) FROM subscriber")).scalar_one())
    engine.dispose()
    return number


def spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.1f} {unit} ({min(values):.1f}-{max(values):.1f})"


def bench(kind: str, rows: int, rounds: int, source: Path, folder: Path) -> None:
    sides = ("ours", "baseline", "export", "export baseline")
    times: dict[str, list[float]] = {side: [] for side in sides}
    rss: dict[str, list[float]] = {side: [] for side in sides}
    for number in range(rounds):
        for name, how in (("ours", ours), ("baseline", baseline)):
            with database(kind, folder) as url:
                seconds, peak = how(url, source, folder)
                assert count(url) == rows, f"{name} wrote {count(url)} rows"
                record(times, rss, kind, rows, number, name, seconds, peak)
                if name == "ours":  # the export of what ours stored, then its baseline
                    for side, out in (("export", export), ("export baseline", export_baseline)):
                        seconds, peak = out(url, folder, rows)
                        record(times, rss, kind, rows, number, side, seconds, peak)
    print(f"[{kind}] import {rows:,} rows x {rounds}: {compare(times, rss, rows, 'import')}")
    print(f"[{kind}] export {rows:,} rows x {rounds}: {compare(times, rss, rows, 'export')}")


def record(
    times: dict[str, list[float]],
    rss: dict[str, list[float]],
    kind: str,
    rows: int,
    number: int,
    side: str,
    seconds: float,
    peak: float,
) -> None:
    times[side].append(seconds)
    rss[side].append(peak)
    print(f"  [{kind} {rows:,}] round {number + 1} {side}: {seconds:.1f} s, {peak:.0f} MiB")
    sys.stdout.flush()


def compare(
    times: dict[str, list[float]], rss: dict[str, list[float]], rows: int, what: str
) -> str:
    ours, base = ("ours", "baseline") if what == "import" else ("export", "export baseline")
    ratios = [b / o for o, b in zip(times[ours], times[base], strict=True)]
    return (
        f"ours {spread(times[ours], 's')} = {rows / statistics.median(times[ours]):,.0f} rows/s, "
        f"peak RSS {spread(rss[ours], 'MiB')} · baseline {spread(times[base], 's')} = "
        f"{rows / statistics.median(times[base]):,.0f} rows/s, peak RSS "
        f"{spread(rss[base], 'MiB')} · ratio baseline/ours {spread(ratios, 'x')}"
    )


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
    elif sys.argv[1:2] == ["--export-baseline"]:
        bare_export_baseline(Path(sys.argv[2]))
    else:
        main()
