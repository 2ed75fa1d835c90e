"""No route blocks the event loop: while a signup waits for the SQLite write lock (another
connection holds it), a probe on another connection still answers at once.

The signup is known to be waiting by an event, not by a sleep: a listener on the engines says
when one of the signup's own transactions begins (its stack holds `check_bearer`, which
counts wrong tokens, or `receive_request`) while the lock is held (it then waits in the busy timeout). Before the signup's store work ran in a worker thread, that wait froze every route,
so the probes answered only once the lock was released, seconds later.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from digest import migrate
from tests.support.live_server import live_server
from tests.support.settings import make_test_settings

TOKEN = "t" * 40
PROBES = 5
SIGNUP_STEPS = {"check_bearer", "receive_request"}  # the signup's transactions


@pytest.mark.timeout(120)
def test_healthz_answers_while_a_signup_waits_for_the_write_lock(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = make_test_settings(tmp_path, sqlite_url, api_token=TOKEN)
    migrate.upgrade(settings.database_url)
    database = sqlite_url.removeprefix("sqlite:///")
    began = threading.Event()

    def on_begin(connection: Any) -> None:
        stack = {frame.name for frame in traceback.extract_stack()}
        if str(connection.engine.url) == sqlite_url and stack & SIGNUP_STEPS:
            began.set()

    with live_server(settings) as base_url, httpx.Client(base_url=base_url) as probe:
        assert probe.get("/healthz").status_code == 200
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, until released below
        event.listen(Engine, "begin", on_begin, insert=True)
        answers: list[int] = []
        signup = threading.Thread(target=lambda: answers.append(subscribe(base_url)))
        try:
            signup.start()
            assert began.wait(30), "the signup's transaction never began"
            latencies = [timed_probe(probe) for _ in range(PROBES)]
            still_waiting = signup.is_alive()
        finally:
            event.remove(Engine, "begin", on_begin)
            holder.execute("ROLLBACK")
            holder.close()
        signup.join(60)
    assert still_waiting, "the signup did not wait for the lock: nothing was proven"
    assert min(latencies) < 0.05, latencies
    assert answers and answers[0] < 300, answers


def subscribe(base_url: str) -> int:
    response = httpx.post(
        f"{base_url}/subscribe",
        json={"email": "probe@example.com"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    return response.status_code


def timed_probe(client: httpx.Client) -> float:
    started = time.perf_counter()
    response = client.get("/healthz", timeout=60)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed
