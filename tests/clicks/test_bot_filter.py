"""The bot filter, proved against the running app over real HTTP: a scripted scanner
(sweeps ~40 s after sending, HEAD, the canary, headless agents, rotating addresses, a hit
before the delivery was recorded) and scripted people (one or two clicks, seconds to hours
after delivery, ordinary browsers). Hit times come from the test's clock, never from waiting.

At least 95% of the scanner's hits must be filtered and at most 2% of people's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from digest.clicks.classify import machine_hits
from digest.clicks.figures import load_hits
from digest.config import Settings
from digest.db import session_scope
from tests.support.clicks import API_TOKEN, SENT_AT, Copy, Moment, figures, local, send_week
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

READERS = 120
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
]
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Request:
    machine: bool
    url: str
    at: datetime
    ip: str
    agent: str
    method: str = "GET"


def scanner_requests(rng: random.Random, links: list[str], n: int) -> list[Request]:
    """One security gateway's look at one email, in one of the shapes seen in the field."""
    start = SENT_AT + timedelta(seconds=rng.uniform(20, 90))  # median ~40 s after sending
    shape = n % 4
    step = rng.uniform(0.02, 0.09)  # ~10 links in under a second
    requests = []
    for index, url in enumerate(links):
        at = start + timedelta(seconds=index * step)
        if shape == 0:  # disguised as a browser, one address: follows the canary, sweeps
            requests.append(Request(True, url, at, f"40.94.{n}.1", BROWSERS[0]))
        elif shape == 1:  # HEAD first, then GET, as a headless browser
            requests.append(Request(True, url, at, f"52.1.{n}.9", HEADLESS, "HEAD"))
            requests.append(
                Request(True, url, at + timedelta(milliseconds=5), f"52.1.{n}.9", HEADLESS)
            )
        elif shape == 2:  # a new address for every request, browser agent: a sweep per email
            requests.append(Request(True, url, at, f"13.{n}.{index}.7", BROWSERS[1]))
        else:  # scanned before the provider had even answered for the batch
            early = SENT_AT - timedelta(seconds=1) + timedelta(seconds=index * step)
            requests.append(Request(True, url, early, f"104.47.{n}.3", BROWSERS[2]))
    return requests


def human_requests(rng: random.Random, links: list[str], n: int) -> list[Request]:
    """A person: one or two clicks, seconds to hours after delivery, one browser."""
    agent, ip = rng.choice(BROWSERS), f"81.{n // 200}.{n % 200}.{rng.randint(2, 250)}"
    first = SENT_AT + timedelta(seconds=rng.choice([rng.uniform(5, 60), rng.uniform(60, 8 * 3600)]))
    choices = links[1:]  # never the canary: nobody can see it
    requests = [Request(False, rng.choice(choices), first, ip, agent)]
    if rng.random() < 0.4:
        later = first + timedelta(seconds=rng.uniform(20, 3600))
        requests.append(Request(False, rng.choice(choices), later, ip, agent))
    return requests


def script(copies: list[Copy], settings: Settings, base: str) -> list[Request]:
    rng = random.Random(12)
    requests: list[Request] = []
    for n, copy in enumerate(copies):
        links = [local(url, settings, base) for url in copy.tracked(settings.base_url)]
        if n % 5 < 2:  # 40% of the readers sit behind a scanning gateway
            requests += scanner_requests(rng, links, n)
        if n % 3 == 0:  # a third of them click
            requests += human_requests(rng, links, n)
    return requests


@pytest.fixture
def filter_settings(tmp_path: Path, database_url: str) -> Settings:
    # The test speaks for many clients through one socket, so it acts as a trusted proxy.
    return make_test_settings(
        tmp_path, database_url, api_token=API_TOKEN, trusted_proxies="127.0.0.1"
    )


def test_scanners_are_filtered_and_people_are_not(
    engine: Engine, filter_settings: Settings
) -> None:
    settings = filter_settings
    issue_id, copies = send_week(engine, settings, readers=READERS, comparisons=4)
    clock = Moment(SENT_AT)
    with live_server(settings, clock=clock) as base, httpx.Client() as client:
        requests = script(copies, settings, base)
        for request in requests:
            clock.at = request.at
            answer = client.request(
                request.method,
                request.url,
                headers={"user-agent": request.agent, "x-forwarded-for": request.ip},
            )
            assert answer.status_code == 302
        data = figures(client, base)
    with session_scope(engine, read_only=True) as session:
        hits = load_hits(session, issue_id)  # in the order they arrived
    assert len(hits) == len(requests)
    verdicts = machine_hits(hits)
    matrix = {(truth, judged): 0 for truth in (True, False) for judged in (True, False)}
    for request, judged in zip(requests, verdicts, strict=True):
        matrix[(request.machine, judged)] += 1
    scanner = matrix[(True, True)] + matrix[(True, False)]
    people = matrix[(False, True)] + matrix[(False, False)]
    print(
        f"\nconfusion matrix ({len(requests)} hits)\n"
        f"                 judged machine   judged person\n"
        f"  scanner hits   {matrix[(True, True)]:>14}   {matrix[(True, False)]:>13}\n"
        f"  people's hits  {matrix[(False, True)]:>14}   {matrix[(False, False)]:>13}\n"
        f"  scanner filtered {matrix[(True, True)] / scanner:.1%}, "
        f"people filtered {matrix[(False, True)] / people:.1%}; API bot share "
        f"{data['bot_share']:.1%}"
    )
    assert scanner > 500 and people > 40
    assert matrix[(True, True)] >= 0.95 * scanner
    assert matrix[(False, True)] <= 0.02 * people
    # the API's figures are the same judgement: people's hits on comparison links
    assert data["human_hits"] == matrix[(False, False)]
