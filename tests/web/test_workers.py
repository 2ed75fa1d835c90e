"""`digest serve --workers N` as an operator runs it, and TCP_NODELAY on every connection."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Settings
from digest.web.server import uvicorn_config
from digest.web.workers import listening_socket, most_workers
from tests.support.cli import DIGEST, digest_env
from tests.support.live_server import free_port

ACCESS_PID = re.compile(r"\[(\d+)\] 127\.0\.0\.1:\d+ - \"GET /issues")


def _children(pid: int) -> list[int]:
    listed = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in listed.stdout.split()]


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"digest serve exited with {process.returncode}"
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("digest serve --workers 2 never answered")


def _answering_pids(url: str, log: Path) -> set[int]:
    """Fresh connections (no keep-alive), 8 at a time, until two processes have answered."""
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while time.monotonic() < deadline:
            answers = list(pool.map(lambda _: httpx.get(url, timeout=30), range(16)))
            assert {answer.status_code for answer in answers} == {200}
            pids = {int(pid) for pid in ACCESS_PID.findall(log.read_text())}
            if len(pids) >= 2:
                return pids
    return pids


def test_two_workers_answer_and_stop_cleanly_on_sigterm(tmp_path: Path, sqlite_url: str) -> None:
    env = digest_env(tmp_path, sqlite_url)  # development: serve migrates the new file
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [DIGEST, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=out,
        )
        try:
            url = f"http://127.0.0.1:{port}/issues"
            _wait_until_answering(url, process)
            workers = _children(process.pid)
            pids = _answering_pids(url, log)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert len(workers) == 2
    assert pids == set(workers), log.read_text()
    assert code == 0, log.read_text()
    assert _children(process.pid) == []
    for pid in workers:  # gone, not orphaned to init
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("workers", ["0", str(most_workers() + 1), "two"])
def test_a_bad_worker_count_is_a_clear_error(workers: str) -> None:
    """Refused before anything is opened or bound (in-process: the same Typer command)."""
    result = CliRunner().invoke(app, ["serve", "--workers", workers])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--workers'" in result.output


def _plain_tcp_socket(port: int) -> socket.socket:
    """A listening socket made as uvicorn makes its own for --workers: protocol number 0."""
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


@pytest.fixture(params=["protocol 0", "workers.py"])
def served_on_socket(
    request: pytest.FixtureRequest, sqlite_settings: Settings
) -> Iterator[tuple[uvicorn.Server, int]]:
    port = free_port()
    if request.param == "protocol 0":
        sock = _plain_tcp_socket(port)
    else:
        sock = listening_socket("127.0.0.1", port)
    config = uvicorn_config(sqlite_settings, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield server, port
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_every_connection_gets_tcp_nodelay(served_on_socket: tuple[uvicorn.Server, int]) -> None:
    """Without it a keep-alive client waits ~40 ms on every answer (delayed ACK)."""
    server, port = served_on_socket
    with httpx.Client(timeout=10) as client:
        assert client.get(f"http://127.0.0.1:{port}/healthz").status_code in (200, 503)
        connections = list(server.server_state.connections)
        flags = [
            conn.transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY
            )
            for conn in connections
        ]
    assert flags and all(flags), flags
