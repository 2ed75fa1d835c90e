"""`digest serve` in its own process, as an operator runs it: for what only a separate process
shows (its memory) and for the real uvicorn configuration of the CLI (timeouts, proxy headers).

Also raw-socket helpers, for requests no HTTP client library will send (a body that never
ends, headers that never finish).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.cli import DIGEST
from tests.support.live_server import free_port


@contextmanager
def digest_serve(env: dict[str, str], cwd: Path) -> Iterator[tuple[int, int]]:
    """(port, pid) of a running `digest serve`; stopped afterwards."""
    port = free_port()
    log = (cwd / "serve.log").open("wb")
    process = subprocess.Popen(
        [DIGEST, "serve", "--port", str(port)], env=env, cwd=cwd, stdout=log, stderr=log
    )
    try:
        _wait_until_listening(port, process)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def raw_connection(env: dict[str, str], cwd: Path) -> Iterator[socket.socket]:
    """A plain TCP connection to a fresh `digest serve`."""
    with (
        digest_serve(env, cwd) as (port, _pid),
        socket.create_connection(("127.0.0.1", port), timeout=30) as sock,
    ):
        yield sock


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"digest serve exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("digest serve did not start listening")


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc status")


def stream_body(
    port: int, head: bytes, *, megabytes: int, chunk: bytes = b"x" * 65536
) -> tuple[bytes, int]:
    """Send `head` (request line and headers, chunked body), then up to `megabytes` of body as
    fast as the server takes it; return the server's answer and how many bytes it accepted
    before it answered or closed."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        try:
            while sent < megabytes * 1_048_576:
                sock.sendall(frame)
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed: what we wanted
            pass
        return read_answer(sock), sent


def read_answer(sock: socket.socket) -> bytes:
    """Whatever the server sends until it closes the connection (or 30 s pass)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:
        pass
    return received


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes `sock` within `seconds` (reading and dropping what it sends)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True
    return False
