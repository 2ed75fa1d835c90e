"""Run the real app under uvicorn on 127.0.0.1 in a background thread, for tests over real HTTP,
configured as `digest serve` configures it (web/server.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import uvicorn
from fastapi import FastAPI

from digest.config import Settings
from digest.web.server import uvicorn_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(
    settings: Settings, port: int | None = None, *, clock: Callable[[], datetime] | None = None
) -> Iterator[str]:
    """Yield the base URL of a running server; stop it afterwards. Pass `port` when the
    settings' DIGEST_BASE_URL must point at the server itself (redirects are built from it),
    and `clock` to set the app's "now" (app.state.clock) from the test."""
    port = port or free_port()
    config = uvicorn_config(
        settings, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    if clock is not None:
        assert isinstance(config.app, FastAPI)
        config.app.state.clock = clock
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
