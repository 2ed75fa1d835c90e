"""Public pages under load: GET /, /issues/1 and /feed.xml with 8 keep-alive clients against
`digest serve` (1 and 2 worker processes) on SQLite, beside a bare FastAPI app that renders the
same templates with the same data, loaded once at its start, under the same uvicorn; all in the
same run, interleaved round by round. Also the 304 answers (If-None-Match) of the issue page
and the feed.

    .venv/bin/python bench/pages.py [--clients 8] [--requests 240] [--rounds 3]

Goal (issue 14): each page at least 0.6x the bare app's requests/s; with --workers 2, more
requests/s than with one.
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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support sends a realistic issue to the outbox

from digest.db import make_engine  # noqa: E402
from digest.models import metadata  # noqa: E402
from tests.support.clicks import send_week  # noqa: E402
from tests.support.settings import SECRET, make_test_settings  # noqa: E402

DIGEST = Path(sys.executable).with_name("digest")
PATHS = ("/", "/issues/1", "/feed.xml")
# The bare baseline: the page's context built once from the store at start (our own functions),
# then per request only the template, as FastAPI + Jinja2 render it. No store, no stamp.
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from digest import catalog, issues
from digest.config import get_settings
from digest.db import make_engine, session_scope, utcnow
from digest.readers import defences
from digest.render import render_feed
from digest.web import issue_page
from digest.web.pages import templates

settings = get_settings()
with session_scope(make_engine(settings.database_url)) as session:
    latest = issues.latest_published(session)
    cards = issue_page.issue_cards(session, settings, latest)
    topics = [dict(slug=t.slug, name=t.name, checked=False) for t in catalog.list_topics(session)]
    schedule = issues.describe_schedule(settings)
    front = {"latest": latest, "topics": topics, "schedule": schedule, "sample": cards[:3]}
    page = issue_page.page_context(settings, latest, cards)
    published = issues.list_published(session)
    contents = {}
    for i in published:
        contents[i.number] = issue_page.issue_content(
            settings, i, issue_page.issue_cards(session, settings, i)
        )
stamp = defences.make_form_stamp(settings.secret, now=utcnow())
front.update(settings=settings, form_stamp=stamp)
page.update(settings=settings, form_stamp=stamp)
app = FastAPI()

@app.get("/")
def index(request: Request):
    return templates.TemplateResponse(request, "index.html", front)

@app.get("/issues/1")
def issue(request: Request):
    return templates.TemplateResponse(request, "issue.html", page)

@app.get("/feed.xml")
def feed():
    body = render_feed(settings, published, now=utcnow(), contents=contents)
    return Response(body, media_type="application/atom+xml; charset=utf-8")

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"server for {url} did not start")


def seed(folder: Path) -> dict[str, str]:
    """A store with one issue of 5 comparisons sent to 20 readers; the servers' environment."""
    url = f"sqlite:///{folder / 'subscribers.db'}"
    settings = make_test_settings(folder, url)
    engine = make_engine(url)
    metadata.create_all(engine)
    send_week(engine, settings, readers=20, comparisons=5)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "RESEND_"))}
    env.update(
        {
            "DIGEST_DATABASE_URL": url,
            "DIGEST_SECRET_KEY": SECRET,
            "DIGEST_BASE_URL": "http://digest.test",
            "DIGEST_SITE_URL": "https://site.test",
            "DIGEST_OUTBOX_DIR": str(folder / "outbox"),
        }
    )
    return env


def start(
    command: list[str], env: dict[str, str], folder: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [*command, str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_up(f"{base}/issues/1", server)
    return server, base


def run_round(
    url: str, clients: int, requests: int, headers: dict[str, str], status: int
) -> tuple[float, list[float]]:
    """`requests` GETs of `url` spread over `clients` keep-alive clients; (elapsed, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)

    def worker() -> None:
        own: list[float] = []
        with httpx.Client(headers=headers, timeout=30) as client:
            client.get(url)  # connect before the clock starts
            gate.wait()
            for _ in range(requests // clients):
                began = time.perf_counter()
                answer = client.get(url)
                own.append(time.perf_counter() - began)
                assert answer.status_code == status, (url, answer.status_code)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = seed(folder)
            bases = {}
            for name, command in (
                ("bare", [sys.executable, "-c", BARE_APP]),
                ("ours x1", [str(DIGEST), "serve", "--workers", "1", "--port"]),
                ("ours x2", [str(DIGEST), "serve", "--workers", "2", "--port"]),
            ):
                server, bases[name] = start(command, env, folder)
                servers.append(server)
            targets = plan(bases)
            results: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
            for _ in range(options.rounds):  # interleaved: every round runs every target
                for key, (url, headers, status) in targets.items():
                    elapsed, latencies = run_round(
                        url, options.clients, options.requests, headers, status
                    )
                    rates, seen = results.setdefault(key, ([], []))
                    rates.append(len(latencies) / elapsed)
                    seen.extend(latencies)
            report(results, options)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def plan(bases: dict[str, str]) -> dict[tuple[str, str], tuple[str, dict[str, str], int]]:
    """(path, server) -> (url, headers, expected status); the 304 rows present a current tag."""
    targets: dict[tuple[str, str], tuple[str, dict[str, str], int]] = {}
    for path in PATHS:
        for name, base in bases.items():
            targets[(path, name)] = (base + path, {}, 200)
    for path in ("/issues/1", "/feed.xml"):
        for name in ("ours x1", "ours x2"):
            tag = httpx.get(bases[name] + path, timeout=30).headers["etag"]
            targets[(f"{path} 304", name)] = (bases[name] + path, {"If-None-Match": tag}, 304)
    return targets


def report(
    results: dict[tuple[str, str], tuple[list[float], list[float]]], options: argparse.Namespace
) -> None:
    """Per target: the median round's req/s and the range, p50 and p99 over all rounds, and
    the ratio of medians to the bare app on the same page (x2 also against x1)."""
    print(
        f"{options.clients} keep-alive clients, {options.requests} requests x {options.rounds} "
        "rounds per target, interleaved; SQLite"
    )
    print(
        f"{'page':14} {'server':8} {'req/s (range)':>17} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'vs bare':>8} {'x2/x1':>6}"
    )
    for (path, name), (rates, latencies) in results.items():
        rate = statistics.median(rates)
        spread = f"{rate:4.0f} ({min(rates):.0f}-{max(rates):.0f})"
        bare = results.get((path.removesuffix(" 304"), "bare"))
        ratio = f"{rate / statistics.median(bare[0]):7.2f}x" if bare else ""
        one = results.get((path, "ours x1"))
        growth = f"{rate / statistics.median(one[0]):5.2f}x" if name == "ours x2" and one else ""
        cuts = statistics.quantiles(latencies, n=100)
        print(
            f"{path:14} {name:8} {spread:>17} {cuts[49] * 1000:7.1f} {cuts[98] * 1000:7.1f} "
            f"{ratio:>8} {growth:>6}"
        )


if __name__ == "__main__":
    main()
