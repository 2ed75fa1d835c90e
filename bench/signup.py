"""Signups: `POST /subscribe` of `digest serve` (SQLite) against a bare FastAPI route that
inserts one SQLite row (bench/bare_app.py), interleaved rounds, same clients, same form body.

Ours runs as docs/scale.md deploys it: `digest serve` with DIGEST_WEB_SENDS_MAIL=off beside a
`digest worker` process that acts on the stored signups and writes each confirmation (outbox
transport) on the same database, while the posts arrive. Each round posts BENCH_REQUESTS new
addresses from BENCH_CLIENTS keep-alive clients to each server in turn (ours first, then the
bare one). Our posts carry a fresh form stamp each (made here with the server's secret: the
real form path, stamp spent, the client's rate-limit counter, the stored request). While ours
is loaded, a probe client asks `/healthz` every 20 ms: its p99 says whether anything blocks
the event loop. At the end it waits (bounded) for the worker to mail every signup.

Environment: BENCH_CLIENTS (8), BENCH_REQUESTS (800), BENCH_ROUNDS (3), BENCH_WORKER (1; 0 runs
no `digest worker`: the requests alone, their mail left stored), BENCH_WORKER_NICE (0, the
worker's DIGEST_BACKGROUND_NICE by default on SQLite; 10 runs it at a lower priority than the web).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.readers.defences import make_form_stamp  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "800"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKER = os.environ.get("BENCH_WORKER", "1") == "1"
SECRET = "bench-secret-key-0123456789-0123456789"
DIGEST = Path(sys.executable).with_name("digest")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("a server did not start")


def start_ours(folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    url = f"sqlite:///{folder / 'subscribers.db'}"
    env.update(
        DIGEST_DATABASE_URL=url,
        DIGEST_SECRET_KEY=SECRET,
        DIGEST_OUTBOX_DIR=str(folder / "outbox"),
        DIGEST_BASE_URL=f"http://127.0.0.1:{port}",
        DIGEST_SUBSCRIBE_IP_LIMIT="1000000",  # all clients share one address
        DIGEST_SUBSCRIBE_MIN_SECONDS="0",
        DIGEST_CONFIRM_HOURLY_LIMIT="1000000",
    )
    subprocess.run(
        [str(DIGEST), "db", "upgrade"], env=env, cwd=folder, check=True, stdout=subprocess.DEVNULL
    )
    server = subprocess.Popen(
        [str(DIGEST), "serve", "--port", str(port)],
        env={**env, "DIGEST_WEB_SENDS_MAIL": "off"},
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_up(port, server)
    return server


def start_worker(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """`digest worker` on ours's database: it acts on the signups and mails them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        DIGEST_DATABASE_URL=f"sqlite:///{folder / 'subscribers.db'}",
        DIGEST_SECRET_KEY=SECRET,
        DIGEST_OUTBOX_DIR=str(folder / "outbox"),
        DIGEST_BASE_URL=f"http://127.0.0.1:{port}",
        DIGEST_SUBSCRIBE_IP_LIMIT="1000000",  # counted here, where the requests are acted on
        DIGEST_BACKGROUND_NICE=os.environ.get("BENCH_WORKER_NICE", "0"),
        DIGEST_SUBSCRIBE_ADDRESS_LIMIT="1000000",
        DIGEST_CONFIRM_HOURLY_LIMIT="1000000",
    )
    return subprocess.Popen(
        [str(DIGEST), "worker"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_mail(outbox: Path, count: int, seconds: float = 300) -> tuple[int, float]:
    """(confirmations written, seconds waited) once the worker wrote `count`, or at the limit."""
    started = time.monotonic()
    while True:
        written = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
        waited = time.monotonic() - started
        if written >= count or waited > seconds:
            return written, waited
        time.sleep(0.5)


def start_bare(folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BARE_DB": str(folder / "bare.db")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--app-dir",
            str(ROOT / "bench"),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_up(port, server)
    return server


def load(base: str, tag: str, body: Callable[[str], dict[str, str]]) -> tuple[float, list[float]]:
    """REQUESTS posts from CLIENTS clients; (requests/s, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        mine = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for number in range(REQUESTS // CLIENTS):
                data = body(f"{tag}-{index}-{number}@example.com")
                started = time.perf_counter()
                response = http.post("/subscribe", data=data)
                mine.append(time.perf_counter() - started)
                assert response.status_code < 300, response.text[:200]
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def probing(base: str, stop: threading.Event, into: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            http.get("/healthz")
            into.append(time.perf_counter() - started)
            stop.wait(0.02)


def ours_body(address: str) -> dict[str, str]:
    stamp = make_form_stamp(SECRET, now=datetime.now(UTC))
    return {"email": address, "name": "", "form_stamp": stamp}


def cpu_seconds(process: subprocess.Popen[bytes] | None) -> float:
    """User + system CPU the process has used so far (Linux /proc; 0 elsewhere or if gone)."""
    if process is None:
        return 0.0
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settled_cpu(process: subprocess.Popen[bytes] | None) -> float:
    """The process's CPU once it has started up and sits idle (bounded wait): what came after
    is the work measured."""
    last = cpu_seconds(process)
    for _ in range(40):
        time.sleep(0.5)
        now = cpu_seconds(process)
        if now == last:
            return now
        last = now
    return last


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}-{fmt.format(max(values))})"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        folder = Path(tmp)
        ours_port, bare_port = free_port(), free_port()
        ours, bare = start_ours(folder, ours_port), start_bare(folder, bare_port)
        worker = start_worker(folder, ours_port) if WORKER else None
        worker_started = settled_cpu(worker)
        rates: dict[str, list[float]] = {"ours": [], "bare": [], "ours99": [], "bare99": []}
        probe99: list[float] = []
        cpu = {"ours": 0.0, "bare": 0.0, "worker": 0.0}
        try:
            for n in range(ROUNDS):
                probes: list[float] = []
                stop = threading.Event()
                prober = threading.Thread(
                    target=probing, args=(f"http://127.0.0.1:{ours_port}", stop, probes)
                )
                prober.start()
                before = cpu_seconds(ours)
                rate, lat = load(f"http://127.0.0.1:{ours_port}", f"o{n}", ours_body)
                cpu["ours"] += cpu_seconds(ours) - before
                stop.set()
                prober.join()
                rates["ours"].append(rate)
                rates["ours99"].append(p99(lat) * 1000)
                probe99.append(p99(probes) * 1000)
                before = cpu_seconds(bare)
                rate, lat = load(f"http://127.0.0.1:{bare_port}", f"b{n}", lambda a: {"email": a})
                cpu["bare"] += cpu_seconds(bare) - before
                rates["bare"].append(rate)
                rates["bare99"].append(p99(lat) * 1000)
            signups = ROUNDS * (REQUESTS // CLIENTS) * CLIENTS
            mailed, waited = wait_for_mail(folder / "outbox", signups) if worker else (0, 0.0)
            cpu["worker"] = cpu_seconds(worker) - worker_started
        finally:
            for server in (ours, bare, worker):
                if server is None:
                    continue
                server.terminate()
                server.wait(timeout=20)
        ratios = [o / b for o, b in zip(rates["ours"], rates["bare"], strict=True)]
        print(f"{CLIENTS} clients, {REQUESTS} new addresses per server per round, {ROUNDS} rounds")
        print(
            f"POST /subscribe (digest serve): {spread(rates['ours'])} req/s, "
            f"p99 {spread(rates['ours99'])} ms"
        )
        print(
            f"bare FastAPI insert:            {spread(rates['bare'])} req/s, "
            f"p99 {spread(rates['bare99'])} ms"
        )
        print(f"ratio ours/bare {spread(ratios, '{:.2f}')} (goal >= 0.5; p99 goal < 50 ms)")
        print(f"/healthz beside the signups: p99 {spread(probe99)} ms (goal < 50 ms)")
        per = {name: 1000 * seconds / signups for name, seconds in cpu.items()}
        print(
            f"CPU per signup: digest serve {per['ours']:.2f} ms (with its /healthz probes), "
            f"bare {per['bare']:.2f} ms, digest worker {per['worker']:.2f} ms"
        )
        if worker is None:
            print("no digest worker (BENCH_WORKER=0): the signups' mail was left stored")
        else:
            print(
                f"digest worker mailed {mailed} confirmations, "
                f"the last {waited:.0f} s after the posts"
            )


if __name__ == "__main__":
    main()
