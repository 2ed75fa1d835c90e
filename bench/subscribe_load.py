"""Load on the subscribe path: concurrent clients on 127.0.0.1 against `digest serve` on SQLite.

Starts the real `digest serve` in a temporary folder (SQLite store, outbox transport), then runs
scenarios with N concurrent keep-alive clients and prints requests/s and p50/p99 latency for each.
Every accepted signup writes the subscriber, its consent record, two rate-limit counters and the
stored confirmation email in one transaction, and the confirmation is rendered (MJML) and written
to the outbox after the answer, in the same process: that is the cost being measured.

    .venv/bin/python bench/subscribe_load.py [--clients 8] [--requests 800]
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
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DIGEST = Path(sys.executable).with_name("digest")
STAMP = re.compile(r'name="form_stamp" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        {
            "DIGEST_DATABASE_URL": f"sqlite:///{folder / 'subscribers.db'}",
            "DIGEST_SECRET_FILE": str(folder / "secret"),
            "DIGEST_OUTBOX_DIR": str(folder / "outbox"),
            "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
            # Measure the whole path, not the limiter's refusals (all clients share one IP).
            "DIGEST_SUBSCRIBE_IP_LIMIT": "1000000",
            "DIGEST_SUBSCRIBE_MIN_SECONDS": "0",
        }
    )
    create_tables(env["DIGEST_DATABASE_URL"])
    server = subprocess.Popen(
        [str(DIGEST), "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("digest serve did not start")


def create_tables(url: str) -> None:
    """The schema straight from the models (what `digest db upgrade` builds, from any revision)."""
    from digest.db import make_engine
    from digest.models import metadata

    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()


Scenario = Callable[[httpx.Client, int, int, str], httpx.Response]


def run_scenario(
    base: str, clients: int, total: int, make_request: Scenario
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def worker(index: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            stamp = STAMP.search(client.get("/").text)
            mine = []
            for number in range(per_client):
                started = time.perf_counter()
                response = make_request(client, index, number, stamp.group(1) if stamp else "")
                mine.append(time.perf_counter() - started)
                assert response.status_code < 500, response.text
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def new_signup(client: httpx.Client, index: int, number: int, stamp: str) -> httpx.Response:
    data = {"email": f"reader-{index}-{number}@example.com", "name": "", "form_stamp": stamp}
    return client.post("/subscribe", data=data)


def repeat_signup(client: httpx.Client, index: int, number: int, stamp: str) -> httpx.Response:
    # The same 20 addresses again and again: resend throttle and per-address limit at work.
    data = {"email": f"reader-0-{number % 20}@example.com", "name": "", "form_stamp": stamp}
    return client.post("/subscribe", data=data)


def json_signup(client: httpx.Client, index: int, number: int, stamp: str) -> httpx.Response:
    return client.post("/subscribe", json={"email": f"api-{index}-{number}@example.com"})


def front_page(client: httpx.Client, index: int, number: int, stamp: str) -> httpx.Response:
    return client.get("/")


def report(name: str, elapsed: float, latencies: list[float], baseline: float) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / elapsed
    return (
        f"{name:<34} {rate:>8.0f} {cuts[49] * 1000:>9.1f} {cuts[98] * 1000:>9.1f} "
        f"{rate / (baseline or rate):>9.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800, help="per scenario")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        server = start_server(Path(tmp), port)
        try:
            base = f"http://127.0.0.1:{port}"
            print(
                f"digest serve on SQLite, {args.clients} concurrent clients, "
                f"{args.requests} requests per scenario"
            )
            print(f"{'scenario':<34} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'vs GET /':>10}")
            baseline = 0.0
            for name, scenario in [
                ("GET / (front page)", front_page),
                ("POST /subscribe, new address", new_signup),
                ("POST /subscribe JSON, new address", json_signup),
                ("POST /subscribe, repeated address", repeat_signup),
            ]:
                elapsed, latencies = run_scenario(base, args.clients, args.requests, scenario)
                baseline = baseline or len(latencies) / elapsed
                print(report(name, elapsed, latencies, baseline), flush=True)
            sent = len(list((Path(tmp) / "outbox").glob("*.eml")))
            print(f"confirmation emails in the outbox: {sent}")
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
