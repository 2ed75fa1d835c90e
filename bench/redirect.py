"""Tracked links under load: GET /r/{token} with 8 concurrent clients against `digest serve`
on SQLite and on PostgreSQL, beside a bare FastAPI redirect served by the same uvicorn, in the
same run, interleaved round by round (absolute numbers drift on a shared machine; the ratio
holds). Every request is a real reader's link from a sent issue, so each one verifies the
token and the tag and stores the hit.

    .venv/bin/python bench/redirect.py [--clients 8] [--requests 400] [--rounds 3]

Goal: at least 0.5 of the bare redirect's requests/s, p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support sends a realistic issue to the outbox

from sqlalchemy import select  # noqa: E402
from sqlmodel import col  # noqa: E402

from digest import clicks  # noqa: E402
from digest.db import make_engine  # noqa: E402
from digest.models import metadata  # noqa: E402
from tests.support.clicks import BROWSER, SENT_AT, send_week  # noqa: E402
from tests.support.settings import SECRET, make_test_settings  # noqa: E402

DIGEST = Path(sys.executable).with_name("digest")
PG_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
app = FastAPI()
@app.get("/r/{token}")
def follow(token: str) -> RedirectResponse:
    return RedirectResponse("https://site.test/compare/a-vs-b", status_code=302)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server for {url} did not start")


def digest_server(
    folder: Path, url: str, readers: int
) -> tuple[subprocess.Popen[bytes], list[str]]:
    """`digest serve` on `url`, with an issue sent to `readers` readers; their tracked links."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_test_settings(folder, url, base_url=base)
    engine = make_engine(url)
    metadata.create_all(engine)
    _, copies = send_week(engine, settings, readers=readers, comparisons=5)
    engine.dispose()
    links = [link for copy in copies for link in copy.tracked(base)[1:]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        {
            "DIGEST_DATABASE_URL": url,
            "DIGEST_SECRET_KEY": SECRET,
            "DIGEST_BASE_URL": base,
            "DIGEST_SITE_URL": "https://site.test",
            "DIGEST_OUTBOX_DIR": str(folder / "outbox"),
        }
    )
    server = subprocess.Popen(
        [str(DIGEST), "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_up(f"{base}/healthz", server)
    return server, links


def bare_server() -> tuple[subprocess.Popen[bytes], list[str]]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", BARE_APP, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_up(f"{base}/r/x", server)
    return server, [f"{base}/r/token-{n}?t=tag" for n in range(100)]


def run_round(links: list[str], clients: int, requests: int) -> tuple[float, list[float]]:
    """`requests` GETs spread over `clients` keep-alive clients; (elapsed, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        own: list[float] = []
        with httpx.Client(headers={"user-agent": f"{BROWSER} {index}"}, timeout=10) as client:
            client.get(links[index % len(links)])  # connect before the clock starts
            start_gate.wait()
            for n in range(requests // clients):
                began = time.perf_counter()
                answer = client.get(links[(index * 7919 + n) % len(links)])
                own.append(time.perf_counter() - began)
                assert answer.status_code == 302, answer.status_code
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies


def fill_cost(folder: Path, readers: int = 300) -> tuple[float, float]:
    """Microseconds per recipient to build one reader's copy (Composer.for_recipient), with
    tracking off and on (aggregate): the tag is the only per-recipient addition."""
    from digest.db import session_scope
    from digest.delivery.claims import Recipient
    from digest.delivery.compose import Composer
    from digest.models import Delivery, Issue, Subscriber

    url = f"sqlite:///{folder / 'fill.db'}"
    settings = make_test_settings(folder, url)
    engine = make_engine(url)
    metadata.create_all(engine)
    issue_id, _ = send_week(engine, settings, readers=readers, comparisons=5)
    with session_scope(engine) as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        tracking = clicks.prepare_tracking(session, settings, issue)
        rows = session.exec(
            select(  # type: ignore[call-overload]
                Delivery.id,
                Delivery.batch_id,
                Subscriber.id,
                Subscriber.email,
                Subscriber.email_hash,
            ).join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
        ).all()
    engine.dispose()
    recipients = [
        (Recipient(delivery_id=d, subscriber_id=s, email=e or "", email_hash=h), b)
        for d, b, s, e, h in rows
    ]
    costs = []
    for composer in (
        Composer(settings, issue, now=SENT_AT),
        Composer(settings, issue, now=SENT_AT, tracking=tracking),
    ):
        began = time.perf_counter()
        for _ in range(5):
            for recipient, batch_id in recipients:
                composer.for_recipient(recipient, batch_id=batch_id)
        costs.append((time.perf_counter() - began) / (5 * len(recipients)) * 1e6)
    return costs[0], costs[1]


def postgres_schema() -> tuple[str, str] | None:
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    except Exception as exc:  # the bench still runs on SQLite
        print(f"PostgreSQL at {PG_URL} unavailable ({exc}); SQLite only")
        return None
    separator = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--readers", type=int, default=200)
    options = parser.parse_args()
    servers: list[subprocess.Popen[bytes]] = []
    pg = postgres_schema()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets: dict[str, list[str]] = {}
            server, targets["bare FastAPI redirect"] = bare_server()
            servers.append(server)
            folder = Path(tmp, "sqlite")
            folder.mkdir()
            url = f"sqlite:///{folder / 'subscribers.db'}"
            server, targets["/r/{token} on SQLite"] = digest_server(folder, url, options.readers)
            servers.append(server)
            if pg is not None:
                folder = Path(tmp, "postgres")
                folder.mkdir()
                server, targets["/r/{token} on PostgreSQL"] = digest_server(
                    folder, pg[1], options.readers
                )
                servers.append(server)
            results: dict[str, tuple[float, list[float]]] = {name: (0.0, []) for name in targets}
            for _ in range(options.rounds):  # interleaved: every round runs every target
                for name, links in targets.items():
                    elapsed, latencies = run_round(links, options.clients, options.requests)
                    total, seen = results[name]
                    results[name] = (total + elapsed, seen + latencies)
            report(results, options)
            plain, tracked = fill_cost(Path(tmp))
            print(
                f"one reader's copy (Composer.for_recipient): {plain:.1f} us untracked, "
                f"{tracked:.1f} us tracked (+{tracked - plain:.1f} us: the tag)"
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        if pg is not None:
            drop_schema(pg[0])


def report(results: dict[str, tuple[float, list[float]]], options: argparse.Namespace) -> None:
    print(
        f"{options.clients} clients, {options.requests} requests x {options.rounds} rounds "
        "per target, interleaved"
    )
    print(f"{'target':28} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}")
    bare_rate = 0.0
    for name, (elapsed, latencies) in results.items():
        rate = len(latencies) / elapsed
        bare_rate = bare_rate or rate
        cuts = statistics.quantiles(latencies, n=100)
        print(
            f"{name:28} {rate:7.0f} {cuts[49] * 1000:8.1f} {cuts[98] * 1000:8.1f} "
            f"{rate / bare_rate:7.2f}x"
        )


if __name__ == "__main__":
    main()
