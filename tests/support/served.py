"""Run the real `digest serve` command in a subprocess on a free port, as an operator does."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.cli import DIGEST
from tests.support.live_server import free_port


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str  # http://127.0.0.1:<port>
    port: int

    def output(self) -> str:
        """Everything it printed; stops the process first."""
        stop(self.process)
        out, err = self.process.communicate(timeout=30)
        return out + err


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def digest_serve(
    env: dict[str, str], cwd: Path, *extra: str, port: int | None = None, timeout: float = 60.0
) -> Iterator[Served]:
    """Yield once the server answers /healthz (any status) or the process has exited."""
    port = port or free_port()
    process = subprocess.Popen(
        [DIGEST, "serve", "--port", str(port), *extra],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(process, f"http://127.0.0.1:{port}", port)
    try:
        _wait_until_up(served, timeout)
        yield served
    finally:
        stop(process)


def _wait_until_up(served: Served, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while served.process.poll() is None:
        try:
            httpx.get(f"{served.url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError("digest serve did not answer in time") from None
            time.sleep(0.05)
